"""What protocols whose unit is a group of images share (association instances, image-caption items): the
groups from the task's source and every image's features, refused in one line where a group would be split."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.core.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from bench.engine.evaluation import Evaluation


def whole_groups(ev: "Evaluation", attribute: str, what: str, image: str = "image") -> tuple[list, Any]:
    """The source's ``attribute`` (its groups, e.g. ``instances``) and the features of all its images.

    ``what`` names a group in messages (``association instances``); ``image`` names a member (``candidate
    image``). --limit and an undecodable image are refused: either would leave a group incomplete."""
    source = ev.task.source
    groups = getattr(source, attribute, None)
    if groups is None:
        raise UserError(f"task {ev.spec.name} needs {what} (its source is {source.origin})")
    if ev.config.limit:
        raise UserError(f"task {ev.spec.name}: --limit would split {what}; run it whole")
    feats = ev.features()
    if len(feats.indices) != len(source):
        raise UserError(f"task {ev.spec.name}: {len(source) - len(feats.indices)} {image}(s) could not be decoded; "
                        f"each of the {what} needs all its images (fix the files, see the warnings above)")
    return groups, feats
