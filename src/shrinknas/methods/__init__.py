"""Search methods: each a package with a config model and a run function, registered by name."""
