"""Face identities across video frames: one person keeps one id while in view.

Each track remembers its last box and its motion per frame; a new frame's faces are matched to the
tracks' predicted positions (constant velocity), nearest first, at most one face per track. A face
that matches no track starts a new id; a track unmatched for ``max_missed`` frames ends (a face
hidden for a moment, e.g. while two people cross, keeps its id when it reappears where its motion
predicts)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Track:
    id: int
    centre: np.ndarray      # (x, y) of the box centre
    size: float             # box side (mean of width and height)
    velocity: np.ndarray    # centre motion per frame
    missed: int = 0         # frames since last seen, beyond the current step
    misses: int = 0         # updates in a row without a match


class FaceTracker:
    def __init__(self, max_missed: int = 15, max_jump: float = 1.0, max_scale: float = 1.6):
        """``max_missed``: updates (analysed frames) a track may go unmatched; ``max_jump``: the largest
        distance, in face sizes, between a track's predicted centre and a face it takes; ``max_scale``:
        the largest ratio of box sizes between them."""
        self.max_missed, self.max_jump, self.log_scale = max_missed, max_jump, float(np.log(max_scale))
        self.tracks: list[_Track] = []
        self.next_id = 0

    def update(self, boxes, step: int = 1) -> list[int]:
        """Ids for this frame's boxes (x, y, w, h), in their order; ``step`` frames since the last update."""
        centres = [np.array([x + w / 2, y + h / 2]) for x, y, w, h in boxes]
        sizes = [(w + h) / 2 for _, _, w, h in boxes]
        pairs = []
        for t_i, t in enumerate(self.tracks):
            predicted = t.centre + t.velocity * (step + t.missed)        # frames since the track was last seen
            for f_i, (c, s) in enumerate(zip(centres, sizes)):
                jump = float(np.linalg.norm(c - predicted)) / max(t.size, 1.0)
                if jump <= self.max_jump and abs(np.log(max(s, 1.0) / max(t.size, 1.0))) <= self.log_scale:
                    pairs.append((jump, t_i, f_i))
        ids: list[int | None] = [None] * len(boxes)
        taken = set()
        for _, t_i, f_i in sorted(pairs):
            if t_i in taken or ids[f_i] is not None:
                continue
            t = self.tracks[t_i]
            moved = (centres[f_i] - t.centre) / (step + t.missed)
            t.velocity = 0.5 * t.velocity + 0.5 * moved
            t.centre, t.size, t.missed, t.misses = centres[f_i], sizes[f_i], 0, 0
            ids[f_i] = t.id
            taken.add(t_i)
        for t_i, t in enumerate(self.tracks):
            if t_i not in taken:
                t.missed += step
                t.misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_missed]
        for f_i, face_id in enumerate(ids):
            if face_id is None:
                self.tracks.append(_Track(self.next_id, centres[f_i], sizes[f_i], np.zeros(2)))
                ids[f_i] = self.next_id
                self.next_id += 1
        return ids
