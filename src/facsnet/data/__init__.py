"""Datasets: readers for each layout, the in-memory FaceSet, caching, folds and augmentation."""
from .augment import Augment
from .faceset import FaceSet
from .images import ImageReadError, read_grey, read_rgb
from .ckplus_release import read_ckplus_release
from .ferplus import fer2013_vote_targets, ferplus_targets, read_fer2013_votes, read_ferplus
from .readers import DatasetError, read_ckplus48, read_class_folder, read_fer2013_csv, read_fer2013_folder
from .registry import data_root, load_dataset
from .splits import make_folds, stratified_folds, subject_folds

__all__ = [
    "Augment", "FaceSet", "ImageReadError", "read_grey", "read_rgb", "DatasetError", "read_ckplus48",
    "read_ckplus_release", "read_class_folder", "read_fer2013_csv", "read_fer2013_folder",
    "read_ferplus", "read_fer2013_votes", "ferplus_targets", "fer2013_vote_targets", "data_root", "load_dataset", "make_folds",
    "stratified_folds", "subject_folds",
]
