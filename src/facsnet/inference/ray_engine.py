"""The per-input work of :mod:`facsnet.inference.corpus` as Ray tasks: one actor per worker, each
loading the models once, each writing its inputs' result files into the shared run folder.

Needs the optional extra: ``pip install 'facsnet[ray]'``. With no address, a local Ray is started
with ``workers`` CPUs; with an address (``auto`` or ``ray://host:10001``), the cluster's workers run
the tasks and must see the inputs and the run folder at the same paths (a shared disk).
"""
from __future__ import annotations

import os
from pathlib import Path


class _Worker:
    """One Ray actor: one Analyzer (models loaded once), one thread each."""

    def __init__(self, settings: dict, out_dir: str, run: str, stride: int, max_frames: int | None):
        from .corpus import analyzer_kwargs
        from .pipeline import Analyzer

        self.analyzer = Analyzer(**analyzer_kwargs(settings), num_threads=1)
        self.out_dir, self.run, self.stride, self.max_frames = Path(out_dir), run, stride, max_frames

    def run(self, inp):
        from .corpus import analyze_input

        return analyze_input(self.analyzer, inp, self.out_dir, self.run, self.stride, self.max_frames)


def run_on_ray(todo, out_dir: Path, run: str, settings: dict, stride: int, max_frames: int | None,
               workers: int | None = None, address: str | None = None):
    """Yield each input's bookkeeping line as its Ray task finishes."""
    if not todo:
        return
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise ValueError("--engine ray needs Ray: pip install 'facsnet[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"address": address} if address else {"num_cpus": workers or os.cpu_count() or 1,
                                                       "object_store_memory": 256 * 2**20}
        env_vars = {"OMP_NUM_THREADS": "1"}
        if os.environ.get("FACSNET_CACHE"):          # else each node keeps its own setting
            env_vars["FACSNET_CACHE"] = os.environ["FACSNET_CACHE"]
        ray.init(include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env_vars}, **kwargs)
    workers = workers or int(ray.cluster_resources().get("CPU", 1))
    try:
        actor = ray.remote(num_cpus=1)(_Worker)
        pool = ActorPool([actor.remote(settings, str(out_dir), run, stride, max_frames)
                          for _ in range(min(workers, len(todo)))])
        yield from pool.map_unordered(lambda a, inp: a.run.remote(inp), todo)
    finally:
        if started_here:
            ray.shutdown()
