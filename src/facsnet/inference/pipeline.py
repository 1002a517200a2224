"""Photos and videos in, faces with emotion probabilities out.

:class:`Analyzer` holds a face detector and an :class:`FaceClassifier`; for each frame it
detects faces, levels the eyes and crops each face the way the model's training faces were framed,
and classifies the crops of many frames in one batch. :func:`facsnet.analyze` is the one-call form:

    >>> from skimage.data import astronaut
    >>> facsnet.analyze(astronaut()).emotions
    ['happy']
"""
from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..faces.align import align_face
from ..faces.detect import Detection, create_detector, detect_tiled
from ..faces.landmarks import FaceMesh, FaceMeshResult, with_mesh_eyes
from ..faces.pose import head_pose
from ..faces.track import FaceTracker
from .annotate import VIDEO_OUT_SUFFIXES, VideoSink, annotate, write_image
from ..models.hub import DEFAULT_MODEL
from .classifier import FaceClassifier
from .media import Frame, MediaError, expand_paths, is_video_file, source_frames
from .results import FACE_MESH_COLUMNS, AnalysisResult, FaceResult, FrameResult
from ..utils import check_writable_folder

log = logging.getLogger("facsnet")



class Analyzer:
    """Detect, align, crop and classify. ``batch_frames`` frames share one classifier call."""

    def __init__(self, model: str | Path = DEFAULT_MODEL, detector: str = "blazeface", backend: str = "auto",
                 min_face_score: float = 0.5, batch_frames: int = 32, photo_tiles: int = 2, level_eyes: bool = True,
                 au_model: str | Path | None = None, detect_every: int = 1, precision: str = "auto",
                 balanced: bool | float | None = None, num_threads: int | None = None,
                 au_intensity_model: str | Path | None = None, device: str = "cpu", landmarks: bool = False,
                 eyes: str = "detector"):
        _check_range("min_face_score", min_face_score, 0.0, 1.0)
        _check_range("batch_frames", batch_frames, 1)
        _check_range("photo_tiles", photo_tiles, 0)
        _check_range("detect_every", detect_every, 1)
        self.classifier = FaceClassifier(model, backend=backend, precision=precision, balanced=balanced,
                                         num_threads=num_threads, device=device)
        if self.classifier.task != "emotion":
            raise ValueError(f"{model}: an {self.classifier.task} model, not an emotion model (pass it as au_model)")
        self.au = (FaceClassifier(au_model, backend=backend, precision=precision, num_threads=num_threads, device=device)
                   if au_model else None)
        if self.au is not None and self.au.task != "au":
            raise ValueError(f"{au_model}: not an Action Unit model (make one with: facsnet transfer au-model)")
        self.intensity = (FaceClassifier(au_intensity_model, backend=backend, precision=precision,
                                         num_threads=num_threads, device=device)
                          if au_intensity_model else None)
        if self.intensity is not None and self.intensity.task != "au_intensity":
            raise ValueError(f"{au_intensity_model}: not an AU intensity model "
                             "(make one with: facsnet transfer au-intensity-model)")
        threads = {"num_threads": num_threads} if num_threads else {}
        framing = {"framing": self.classifier.crop_spec} if detector == "crops" else {}   # eyes where the model has them
        self.detector = create_detector(detector, min_score=min_face_score, **threads, **framing)
        if eyes not in ("detector", "mesh"):
            raise ValueError(f"eyes = {eyes!r}: choose detector (the detector's eye keypoints) or mesh")
        if eyes == "mesh" and not landmarks:
            raise ValueError("eyes = 'mesh' aligns faces by the face mesh's eyes: it needs landmarks")
        self.mesh = FaceMesh(**threads) if landmarks else None   # 468 points and the head pose per face
        self.eyes = eyes   # which eye points level and frame the crops
        self.batch_frames = max(1, batch_frames)
        self.photo_tiles = photo_tiles  # photos also get a tiled pass for small faces; video frames do not
        self.level_eyes = level_eyes    # False: keep the head's tilt (same eye centre, distance and framing)
        # Video only: detect on frames k apart and keep those faces (boxes, eyes) for the frames
        # between; the faces are still cropped and classified on every frame.
        self.detect_every = max(1, detect_every)
        self.model_name = str(model)

    @property
    def class_names(self) -> list[str]:
        return self.classifier.class_names

    @property
    def face_columns(self) -> list[str]:
        """The pose and landmark columns (with ``landmarks=True``)."""
        return list(FACE_MESH_COLUMNS) if self.mesh is not None else []

    @property
    def au_names(self) -> list[str]:
        """The AU columns: presence probabilities (``AU12``), then intensities (``AU12_intensity``)."""
        return [n for m in (self.au, self.intensity) if m is not None for n in m.class_names]

    def crops(self, rgb: np.ndarray, faces: list[Detection], classifier: FaceClassifier | None = None) -> np.ndarray:
        """Aligned crops (N, S, S) grey or (N, S, S, 3) for a classifier (the emotion model by default)."""
        classifier = classifier or self.classifier
        spec = classifier.crop_spec
        if not faces:
            shape = (0, spec.size, spec.size) if classifier.grey else (0, spec.size, spec.size, 3)
            return np.zeros(shape, np.uint8)
        image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if classifier.grey else rgb
        if getattr(self.detector, "whole_image", False):   # face crops already: every model sees the square resized
            return np.stack([square_resized(image, f.box, spec.size) for f in faces])
        return np.stack([align_face(image, *self._eyes(f), spec) for f in faces])

    def _eyes(self, face: Detection) -> tuple[np.ndarray, np.ndarray]:
        if self.level_eyes:
            return face.left_eye, face.right_eye
        centre, half = (face.left_eye + face.right_eye) / 2, np.hypot(*(face.right_eye - face.left_eye)) / 2
        return centre - [half, 0.0], centre + [half, 0.0]

    def detect(self, frame: Frame) -> list[Detection]:
        if frame.time_s is None and self.photo_tiles > 1 and not getattr(self.detector, "whole_image", False):
            return detect_tiled(self.detector, frame.rgb, grid=self.photo_tiles)
        return self.detector.detect(frame.rgb)

    def stream(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, FrameResult]]:
        """(frame, result) pairs in input order; crops of ``batch_frames`` frames go to the model together."""
        pending: list[tuple] = []   # (frame, faces, crops, AU crops, ids, meshes) waiting for the classifier
        last: tuple[str, int, list[Detection]] | None = None  # (source, frame index, faces) of the last detection
        tracker, tracked = None, (None, -1)     # one tracker per video: (source, index of the last update)
        for frame in frames:
            reuse = (self.detect_every > 1 and frame.time_s is not None and last is not None
                     and last[0] == frame.source and frame.index - last[1] < self.detect_every)
            faces = last[2] if reuse else self.detect(frame)
            if not reuse:
                last = (frame.source, frame.index, faces)
            if frame.time_s is None:             # a photo (or a page of one): ids are the detector's order
                ids = list(range(len(faces)))
            else:
                if tracker is None or tracked[0] != frame.source:
                    tracker, tracked = FaceTracker(), (frame.source, frame.index - 1)
                ids = tracker.update([f.box for f in faces], step=max(1, frame.index - tracked[1]))
                tracked = (frame.source, frame.index)
            meshes = self.mesh(frame.rgb, faces) if self.mesh is not None else [None] * len(faces)
            if self.eyes == "mesh":
                faces = [with_mesh_eyes(f, m) for f, m in zip(faces, meshes)]
            au_crops = [self.crops(frame.rgb, faces, m) if m is not None else None for m in (self.au, self.intensity)]
            pending.append((frame, faces, self.crops(frame.rgb, faces), au_crops, ids, meshes))
            if len(pending) >= self.batch_frames:
                yield from self._classify(pending)
                pending = []
        if pending:
            yield from self._classify(pending)

    def _classify(self, pending) -> Iterator[tuple[Frame, FrameResult]]:
        probs = self.classifier.predict_proba(np.concatenate([p[2] for p in pending]))
        extra = [(m.class_names, m.predict_proba(np.concatenate([p[3][k] for p in pending])))
                 for k, m in enumerate((self.au, self.intensity)) if m is not None]
        names, at = self.class_names, 0
        for frame, faces, crops, _, ids, meshes in pending:
            results = []
            for det, face_id, mesh in zip(faces, ids, meshes):
                p = {n: float(v) for n, v in zip(names, probs[at])}
                aus = {n: float(v) for cols, values in extra for n, v in zip(cols, values[at])}
                at += 1
                results.append(FaceResult(tuple(float(v) for v in det.box), det.score,
                                          tuple(float(v) for v in det.left_eye),
                                          tuple(float(v) for v in det.right_eye), p, aus,
                                          frame=frame.index, time_s=frame.time_s, face_id=face_id,
                                          **_mesh_fields(mesh)))
            h, w = frame.rgb.shape[:2]
            yield frame, FrameResult(frame.source, frame.index, frame.time_s, results, (w, h), crops=crops)

    def analyze(self, inputs, stride: int = 1, max_frames: int | None = None,
                annotate_to: str | Path | None = None, progress: bool = False,
                on_frame=None, crops_to: str | Path | None = None) -> AnalysisResult:
        """Analyse photos, folders, videos, ``camera:N`` or arrays; unreadable sources are skipped
        and listed in ``result.skipped``. ``annotate_to``: a folder for annotated photos (and
        videos as ``<name>.annotated.mp4``), or a video file path when the input is one video.
        ``crops_to``: a folder for the crop the emotion model saw of each face, as PNG
        (``<name>[.frame<k>].face<i>.png``). ``on_frame`` is called with each :class:`FrameResult` as
        it is finished."""
        _check_range("stride", stride, 1)
        if max_frames is not None:
            _check_range("max_frames", max_frames, 1)
        ignored: list[tuple[str, str]] = []
        sources = _as_sources(inputs, ignored)
        result = AnalysisResult([], model=self.model_name, class_names=list(self.class_names),
                                au_names=self.au_names, face_columns=self.face_columns)
        result.skipped.extend(ignored)
        for _, why in ignored:
            log.warning("%s", why)
        if crops_to:
            check_writable_folder(crops_to, "crops_to")
        names = output_names(sources)
        try:
            for n, source in enumerate(sources):
                self._analyze_source(source, n, names[n], len(sources), result, stride, max_frames, annotate_to,
                                     progress, on_frame, crops_to)
        except KeyboardInterrupt as exc:  # hand the finished rows to whoever stops the run
            exc.partial_result = result
            raise
        return result

    def _analyze_source(self, source, n: int, out_name: str, n_sources: int, result: AnalysisResult, stride: int,
                        max_frames: int | None, annotate_to, progress: bool, on_frame=None, crops_to=None) -> None:
        """One source; ``out_name`` (:func:`output_names`) names its annotated copy and crops."""
        name = f"array:{n}" if isinstance(source, np.ndarray) else str(source)
        sink = _sink_for(source, annotate_to, n_sources, out_name) if annotate_to else None
        frames = prefetch(source_frames(source, stride, max_frames, index=n))
        try:
            for frame, fr in self.stream(frames):
                result.frames.append(fr)
                if on_frame is not None:
                    on_frame(fr)
                if annotate_to:
                    _write_annotation(frame, fr, sink, Path(annotate_to), out_name)
                if crops_to:
                    _write_crops(frame, fr, Path(crops_to), out_name)
                fr.crops = None
                if progress and fr.frame % 100 == 0 and fr.time_s is not None:
                    log.info("%s: frame %d (%.1f s)", name, fr.frame, fr.time_s)
        except (MediaError, cv2.error) as exc:   # one bad input never stops the others
            reason = str(exc) if isinstance(exc, MediaError) else f"{name}: OpenCV could not process it ({exc.err})"
            log.warning("skipped %s", reason)
            result.skipped.append((name, reason))
        finally:
            if sink is not None:
                sink.close(keep=True)


def square_resized(image: np.ndarray, box, size: int) -> np.ndarray:
    """The square ``box`` (x, y, side, side) of ``image`` resized to ``size``: area-averaged when it
    shrinks, bilinear when it grows."""
    x, y, side = int(round(box[0])), int(round(box[1])), int(round(box[2]))
    square = image[y:y + side, x:x + side]
    method = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=method)


def _mesh_fields(mesh: FaceMeshResult | None) -> dict:
    """A face's pose, mesh and landmark score for its FaceResult (nothing without landmarks)."""
    if mesh is None:
        return {}
    return {"pose": head_pose(mesh.points), "mesh": mesh.points.astype(np.float32), "landmark_score": mesh.score}


def _check_range(name: str, value, low, high=None) -> None:
    """A clear error for an option outside [low, high]."""
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} = {value}: must be {bound}")


def _as_sources(inputs, ignored: list | None = None) -> list:
    if isinstance(inputs, np.ndarray):
        return [inputs]
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    out = []
    for item in inputs:
        if isinstance(item, np.ndarray):
            out.append(item)
        elif str(item).startswith("camera:"):
            out.append(str(item))
        else:
            out.extend(expand_paths([item], ignored) if Path(item).is_dir() else [Path(item)])
    return out


def prefetch(frames: Iterator[Frame], depth: int = 4) -> Iterator[Frame]:
    """Decode the next frames in a background thread while the current ones are analysed;
    an exception in the decoder is raised here, in order."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for f in frames:
                if stop.is_set():
                    return
                q.put(f)
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(timeout=0.05)


def output_names(sources: list) -> list[str]:
    """What each source's annotated copy and crops are named after: its file stem (``array<n>`` for an
    array, ``camera<k>`` for a camera), with ``-<n>`` (its place among the sources) where stems repeat, so
    that ``day1/IMG_1.jpg`` and ``day2/IMG_1.jpg`` do not overwrite each other's files."""
    stems = [f"array{n}" if isinstance(s, np.ndarray) else str(s).replace(":", "") if str(s).startswith("camera:")
             else Path(str(s)).stem for n, s in enumerate(sources)]
    repeated = {stem for stem in stems if stems.count(stem) > 1}
    return [f"{stem}-{n}" if stem in repeated else stem for n, stem in enumerate(stems)]


def _sink_for(source, annotate_to, n_sources: int, out_name: str) -> VideoSink | None:
    if isinstance(source, np.ndarray) or not (isinstance(source, Path) and is_video_file(source)
                                                or str(source).startswith("camera:")):
        return None
    target = Path(annotate_to)
    if target.suffix.lower() in VIDEO_OUT_SUFFIXES and n_sources == 1:
        out = target
    else:
        out = target / f"{out_name}.annotated.mp4"
    cap = cv2.VideoCapture(str(source)) if isinstance(source, Path) else None
    fps = cap.get(cv2.CAP_PROP_FPS) if cap is not None else 25.0
    if cap is not None:
        cap.release()
    return VideoSink(out, fps)


def _write_annotation(frame: Frame, fr: FrameResult, sink: VideoSink | None, target: Path, out_name: str) -> None:
    drawn = annotate(frame.rgb, fr)
    if sink is not None:
        sink.write(drawn)
    else:
        write_image(target / f"{_frame_name(frame, out_name)}.annotated.jpg", drawn)


def _write_crops(frame: Frame, fr: FrameResult, target: Path, out_name: str) -> None:
    """Each face's model input as ``<name>[.frame<k>].face<i>.png`` (i as in the table's ``face``); many
    small files, so each is replaced atomically but not flushed to disk one by one."""
    if fr.crops is not None and len(fr.crops):
        target.mkdir(parents=True, exist_ok=True)
    for i, crop in enumerate(fr.crops if fr.crops is not None else []):
        write_image(target / f"{_frame_name(frame, out_name)}.face{i}.png", crop, durable=False)


def _frame_name(frame: Frame, out_name: str) -> str:
    """The source's output name, with ``.frame<k>`` for a video frame or a later page of an image."""
    page = f".frame{frame.index}" if frame.index or frame.time_s is not None else ""
    return f"{out_name}{page}"
