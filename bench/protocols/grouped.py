"""What protocols whose unit is a group of images share (association instances, image-caption items): the
groups from the task's source with their images' features, refused in one line where a group would be split.

A grouped source lists its groups (``instances``, ``items``: each with ``start``, its first image) and gives each
image its group's index as ``targets``; a group's images are consecutive. The evaluation is every group, or,
under ``--target-ci``, the groups of the growing sample (:meth:`Protocol.unit_groups`: the sample grows by whole
groups), in the order they were drawn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from bench.engine.evaluation import Evaluation
    from bench.engine.features import FeatureSet


@dataclass
class GroupFeatures:
    """The groups an evaluation covers and where their images' features are."""

    groups: list                 # the source's group objects, in evaluation order
    numbers: np.ndarray          # each one's index among the source's groups (what records call ``indices``)
    rows: list[np.ndarray]       # each one's images, in order, as rows of ``features.features``
    features: "FeatureSet"


def whole_groups(ev: "Evaluation", attribute: str, what: str, image: str = "image") -> GroupFeatures:
    """The source's ``attribute`` (its groups, e.g. ``instances``) that the evaluation covers, with the features
    of their images.

    ``what`` names a group in messages (``association instances``); ``image`` names a member (``candidate
    image``). --limit and an undecodable image are refused: either would leave a group incomplete."""
    source = ev.task.source
    groups = getattr(source, attribute, None)
    if groups is None:
        raise UserError(f"task {ev.spec.name} needs {what} (its source is {source.origin})")
    if ev.config.limit:
        raise UserError(f"task {ev.spec.name}: --limit would split {what}; run it whole")
    feats = ev.features()
    if len(feats.indices) != len(ev.task.indices):
        raise UserError(f"task {ev.spec.name}: {len(ev.task.indices) - len(feats.indices)} {image}(s) could not be "
                        f"decoded; each of the {what} needs all its images (fix the files, see the warnings above)")
    targets = np.asarray(source.targets)
    sizes = np.bincount(targets, minlength=len(groups))
    row_of = np.full(len(targets), -1, dtype=np.int64)
    row_of[np.asarray(feats.indices, dtype=np.int64)] = np.arange(len(feats.indices))
    drawn = targets[np.asarray(feats.indices, dtype=np.int64)]
    numbers = drawn[np.sort(np.unique(drawn, return_index=True)[1])]   # in the order their images were drawn
    rows = [row_of[groups[g].start:groups[g].start + sizes[g]] for g in numbers]
    if any((r < 0).any() for r in rows):  # a sample that took part of a group: a bug in the sampler, not the input
        raise RuntimeError(f"task {ev.spec.name}: the evaluated images split one of its {what}")
    return GroupFeatures([groups[g] for g in numbers], numbers.astype(np.int64), rows, feats)


def unit_groups(source: Any) -> np.ndarray:
    """Each image's group (a grouped source's ``targets``): ``--target-ci`` draws whole groups."""
    return np.asarray(source.targets, dtype=np.int64)
