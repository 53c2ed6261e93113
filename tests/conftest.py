import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tests run small models: one thread avoids oversubscription on a loaded 2-core machine."""
    torch.set_num_threads(1)
    yield


@pytest.fixture
def cli(capsys):
    """Run the `shrinknas` command in-process; returns (exit code, stdout, stderr)."""
    from shrinknas.cli import main

    def run(*args):
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    return run
