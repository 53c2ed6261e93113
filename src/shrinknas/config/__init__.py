"""Settings: strict models, the identity of a run, YAML; task and trainer settings shared by methods."""

from .base import StrictModel, added_setting, dump_yaml, identity, inherit_only, load_yaml, validated
from .tasks import SHRINKRNN_FINAL_TRAINING, ImageTask, ImageTraining, TextTask, TextTraining

__all__ = ["SHRINKRNN_FINAL_TRAINING", "ImageTask", "ImageTraining", "TextTask", "StrictModel", "TextTraining", "added_setting",
           "dump_yaml", "identity", "inherit_only", "load_yaml", "validated"]
