"""Data-parallel training on ``torch.distributed``: process group set-up, sharding, gradient and metric reduction.

Launch with ``torchrun --nproc-per-node N -m neuroplast.cli train CFG`` (the trainer reads ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` and joins the group itself) or with
``neuroplast train CFG --nproc N`` (:func:`launch` spawns N local workers on a free localhost port).

Why the result equals one process with the same global batch: every rank draws the same seeded shuffle and
takes a contiguous slice of each global batch (``learning.batch_size`` stays the *global* batch). Both methods'
gradients are means over the local batch (the SSTDP update divides its per-sample-normalised sum by the batch;
the ScSr losses are batch means), so each rank scales its gradient by ``n_local / n_global`` and the ranks
*sum* them: that is the global-batch mean, also for a short last batch. Clipping, weight decay and the optimizer
step then run on identical gradients on every rank. Gradients are reduced by hand (one flat all-reduce per
step) rather than with ``DistributedDataParallel``, whose fixed ``1 / world`` averaging would be wrong for
unequal shards. Metric sums are gathered and added in rank order; only rank 0 writes files and logs.

The trainer keeps its tensors on the CPU, so the backend is gloo; NCCL is chosen only for CUDA tensors.
"""

from __future__ import annotations

import datetime
import os
import socket
import traceback
from dataclasses import dataclass

import torch
import torch.distributed as dist

from neuroplast.errors import NeuroplastError

ENV_KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Context:
    """This process's place in the group; ``Context()`` is the single-process case and costs nothing."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch of indices (may be empty when the batch is short)."""
        return torch.tensor_split(idx, self.world)[self.rank] if self.active else idx

    def reduce_gradients(self, params, n_local: int, n_global: int):
        """Turn per-rank batch-mean gradients into the global-batch mean: scale by n_local/n_global, then sum."""
        if not self.active:
            return
        params = [p for p in params if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        scale = n_local / n_global
        flat = torch.cat([g.reshape(-1).to(torch.float64) * scale for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(g).to(g.dtype)
            offset += n

    def reduce_sums(self, sums: dict) -> dict:
        """Add every rank's metric sums (floats or tensors) in rank order, so all ranks hold the same totals."""
        if not self.active:
            return sums
        parts: list = [None] * self.world
        dist.all_gather_object(parts, sums)
        total: dict = {}
        for part in parts:
            for k, v in part.items():
                total[k] = total[k] + v if k in total else v
        return total

    def barrier(self):
        if self.active:
            dist.barrier()

    def broadcast_parameters(self, model: torch.nn.Module):
        """Rank 0's weights everywhere: guards against any rank-dependent draw (e.g. a re-initialisation)."""
        if not self.active:
            return
        for p in model.parameters():
            dist.broadcast(p.data, src=0)


def initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def backend_for(device: torch.device | str = "cpu") -> str:
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def setup(device: torch.device | str = "cpu") -> Context:
    """Join the process group when launched as one of several workers (env vars set); else the single context."""
    if initialized():
        return Context(dist.get_rank(), dist.get_world_size())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    missing = [k for k in ENV_KEYS if k not in os.environ]
    if missing:
        raise NeuroplastError(f"WORLD_SIZE={world} but {', '.join(missing)} is not set; launch with torchrun or "
                              "`neuroplast train --nproc N`")
    if not dist.is_available():
        raise NeuroplastError("this torch build has no torch.distributed; train with one process")
    dist.init_process_group(backend_for(device), init_method="env://", timeout=datetime.timedelta(minutes=30))
    return Context(dist.get_rank(), dist.get_world_size())


def teardown():
    if initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """Rank 0, or not distributed at all (what decides who prints and writes)."""
    if initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, cfg, resume_from, command, threads: int, queue):
    """One spawned rank: join the group, train, report ``(rank, status, payload)`` to the parent."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    from neuroplast.train.trainer import set_threads, train

    if cfg.train.threads is None:  # the share is not written into the run's config.yaml
        set_threads(threads)
    try:
        metrics = train(cfg, resume_from=resume_from, command=command)
        queue.put((rank, "ok", metrics if rank == 0 else None))
    except NeuroplastError as exc:
        queue.put((rank, "error", str(exc)))
    except BaseException:
        queue.put((rank, "crash", traceback.format_exc()))
    finally:
        teardown()


def _prefer_user_error(results, failure, pending: int, wait_s: float = 5.0):
    """When one rank fails with a user error, the others die of the closed connection, and that report may come
    first; the user error is the one worth showing, so wait a little for it."""
    import queue as queue_mod
    import time

    deadline = time.monotonic() + wait_s
    while pending and time.monotonic() < deadline:
        try:
            _, status, payload = results.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue_mod.Empty:
            break
        pending -= 1
        if status == "error":
            return status, payload
    return failure


def launch(cfg, nproc: int, resume_from=None, command: str | None = None) -> dict:
    """Train ``cfg`` on ``nproc`` local processes (gloo on localhost); returns rank 0's metrics.

    Each rank gets ``train.threads`` threads, or an equal share of the cores. A user error on any rank ends all
    of them and comes back as one :class:`NeuroplastError` line.
    """
    import queue as queue_mod

    import torch.multiprocessing as mp

    if nproc < 1:
        raise NeuroplastError(f"--nproc must be >= 1, got {nproc}")
    threads = cfg.train.threads or max(1, (os.cpu_count() or 1) // nproc)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, nproc, port, cfg, resume_from, command, threads, results),
                         daemon=False) for r in range(nproc)]
    for p in procs:
        p.start()
    metrics, failure, reported, finished = None, None, set(), False
    try:
        while len(reported) < nproc and failure is None:
            try:
                rank, status, payload = results.get(timeout=1.0)
            except queue_mod.Empty:
                dead = [r for r, p in enumerate(procs) if r not in reported and p.exitcode not in (None, 0)]
                if dead:
                    failure = ("crash", f"rank {dead[0]} died with exit code {procs[dead[0]].exitcode}")
                continue
            reported.add(rank)
            if status == "ok":
                metrics = payload if rank == 0 else metrics
            else:
                failure = (status, payload)
        if failure is not None and failure[0] == "crash":
            failure = _prefer_user_error(results, failure, nproc - len(reported))
        finished = failure is None
    finally:
        if not finished:  # a failed rank, or the parent interrupted: the others may wait in a collective forever
            for p in procs:
                if p.is_alive():
                    p.terminate()
        for p in procs:
            p.join()
    if failure is not None:
        status, payload = failure
        if status == "error":
            raise NeuroplastError(payload)
        raise RuntimeError(f"a training process failed:\n{payload}")
    return metrics
