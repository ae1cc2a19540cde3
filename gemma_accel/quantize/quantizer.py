"""The streaming quantizer: any supported checkpoint to a smaller GGUF, tensor by tensor.

    report = gemma_accel.quantize("gemma-3-270m/", "gemma-270m-q4_0.gguf", profile="q4_0")
    print(report)              # seconds, bytes in/out, bits per weight, types, peak RSS

Memory: the source is memory-mapped; each tensor is read in row chunks of at
most CHUNK_BYTES of float32, quantized, appended to the output through
GGUFWriter (header first), and the source pages it came from are dropped with
madvise(MADV_DONTNEED).  Peak RSS is the interpreter and NumPy plus a few
chunk-sized buffers, whatever the model's size.  (awq-lite, int4-balanced and
mixed first run a calibration forward pass that holds one layer's weights in
float32 and reads the head in row chunks.)

Atomicity: the file is written as a hidden temporary beside dst and renamed
over it at the end; any error or KeyboardInterrupt removes the temporary.
Every check on the source (architecture, dtypes, shards, missing tensors,
profile) runs before the temporary is created.
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import block_formats, gguf_metadata
from .._core import Error
from ..gguf_writer import GGUFWriter
from .profiles import (LADDERS, PROFILES, TypeChoice, base_choice, file_type, fit, ladder, llama_q4_k_m,
                             tensor_kind)
from ..checkpoint import layer_of, open_checkpoint

log = logging.getLogger(__name__)

CHUNK_BYTES = 16 << 20       # float32 bytes per row chunk
DEFAULT_TARGET_BPW = 5.0     # mixed: bits per weight the 8-bit promotions may use up


class OutputExistsError(Error, FileExistsError):
    """dst exists and overwrite=False (both a gemma_accel.Error and a FileExistsError)."""


@dataclass
class QuantizeReport:
    """What quantize() did.  tensor_types: {GGUF name: ggml type written};
    fallbacks: {name: reason} where a profile's type did not fit the rows;
    peak_rss_bytes: the process's VmHWM, reset at the start of the call where Linux allows."""
    src: str
    dst: str
    profile: str
    seconds: float
    input_bytes: int
    output_bytes: int
    n_elements: int
    bits_per_weight: float
    tensor_types: dict
    fallbacks: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    peak_rss_bytes: int = 0
    requantized: bool = False

    @property
    def type_counts(self) -> dict:
        return dict(Counter(self.tensor_types.values()).most_common())

    def __str__(self) -> str:
        lines = [f"{self.src} -> {self.dst} ({self.profile}): {self.seconds:.1f} s, "
                 f"{self.input_bytes / 1e6:.1f} MB -> {self.output_bytes / 1e6:.1f} MB, "
                 f"{self.bits_per_weight:.2f} bits/weight, peak RSS {self.peak_rss_bytes / 2**20:.0f} MiB",
                 "  types: " + ", ".join(f"{n} {t}" for t, n in self.type_counts.items())]
        if self.fallbacks:
            reasons = Counter(self.fallbacks.values())
            lines.append(f"  {len(self.fallbacks)} tensors fell back: " +
                         "; ".join(f"{n} x {r}" for r, n in reasons.items()))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# ------------------------------------------------------------------ memory

def _vm_hwm() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> None:
    try:  # Linux >= 4.0: "5" resets VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# ------------------------------------------------------------------ progress

class _Progress:
    """A tqdm bar over source bytes (console or Jupyter via tqdm.auto), a callable
    progress(done_tensors, total_tensors, name, bytes_done, bytes_total), or nothing."""

    def __init__(self, progress, total_tensors: int, total_bytes: int, desc: str):
        self.callback, self.bar = None, None
        self.total_tensors, self.total_bytes = total_tensors, total_bytes
        self.done_bytes = 0
        if callable(progress):
            self.callback = progress
        elif progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024,
                                desc=desc, leave=True)

    def advance(self, nbytes: int, name: str) -> None:
        self.done_bytes += nbytes
        if self.bar is not None:
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(nbytes)

    def tensor_done(self, done: int, name: str) -> None:
        if self.callback is not None:
            self.callback(done, self.total_tensors, name, self.done_bytes, self.total_bytes)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------ planning

def _parse_layers(exclude_layers, n_layer: int) -> set:
    if isinstance(exclude_layers, str):
        exclude_layers = [s for s in exclude_layers.split(",") if s.strip()]
    layers = set()
    for x in exclude_layers or ():
        i = int(x)
        if not 0 <= i < n_layer:
            raise ValueError(f"exclude_layers: layer {i} is outside 0..{n_layer - 1}")
        layers.add(i)
    return layers


def _head_name(src) -> str:
    return "output.weight" if "output.weight" in src else "token_embd.weight"


def _source_precision(t) -> TypeChoice:
    """The source's own type, when GGUF can hold it."""
    if t.src_type in ("F32", "F16", "BF16") or t.src_type in block_formats.QUANTIZABLE \
            or t.src_type in block_formats.DEQUANTIZABLE:
        return TypeChoice(t.src_type, t.src_type, None)
    return fit("F16", t.row_len)


def plan_types(src, profile: str, exclude: set, promote: set = frozenset()) -> dict:
    """{name: TypeChoice} for every source tensor."""
    head = _head_name(src)
    plan = {}
    for t in src.tensors:
        layer = layer_of(t.name)
        if layer is not None and layer in exclude:
            c = _source_precision(t) if t.is_matrix else TypeChoice("F32", "F32")
            plan[t.name] = TypeChoice(c.type, c.wanted, f"layer {layer} excluded: kept at source precision")
            continue
        c = base_choice(profile, t.name, t.shape, t.name == head)
        if t.name in promote:
            c = ladder(profile, t.row_len)[1]
        plan[t.name] = c
    return plan


def _measured_promotions(source, profile: str, exclude: set, calibration, target_bpw):
    """int4-balanced / mixed: which matrices get the promoted type of their ladder, from
    sensitivity measured on the calibration text (quantize/sensitivity.py), within the budget:
    llama.cpp's Q4_K_M size for int4-balanced, target_bpw (default 5.0) for mixed."""
    from . import calibration as calib, sensitivity as sens
    head = _head_name(source)
    plan = plan_types(source, profile, exclude)
    n_el = sum(t.n_elements for t in source.tensors)
    size = {t.name: _nbytes(plan[t.name].type, t.shape) for t in source.tensors}
    if profile == "int4-balanced":
        budget = sum(_nbytes(llama_q4_k_m(t.name, t.shape, t.name == head, source.hparams["n_layer"]), t.shape)
                     for t in source.tensors)
        what = "llama.cpp Q4_K_M's size"
    else:
        bpw = DEFAULT_TARGET_BPW if target_bpw is None else float(target_bpw)
        budget, what = bpw * n_el / 8.0, f"{bpw} bits/weight"
    base, promoted, extra = {}, {}, {}
    for t in source.tensors:
        c = plan[t.name]
        if t.is_matrix and not (c.reason and "excluded" in c.reason):
            p = ladder(profile, t.row_len)[1]
            if p.type != c.type:
                base[t.name], promoted[t.name] = c.type, p.type
                extra[t.name] = _nbytes(p.type, t.shape) - size[t.name]
    ids = calib.calibration_ids(source, calib.calibration_text(calibration), sens.SCORE_TOKENS)
    m = sens.measure(source, ids, base, promoted)
    chosen, kl = sens.choose(m.scores, extra, budget - sum(size.values()))
    used = sum(size.values()) + sum(extra[n] for n in chosen)
    top = sorted(m.scores.values(), key=lambda s: s.kl_base, reverse=True)[:6]
    msg = (f"{profile}: {len(chosen)} of {len(m.scores)} matrices promoted for a budget of {what} "
           f"({used / 1e6:.1f} of {budget / 1e6:.1f} MB, {8 * used / n_el:.2f} bits/weight); predicted KL "
           f"{kl:.4f} (all at base {sum(s.kl_base for s in m.scores.values()):.4f}; measured on "
           f"{m.n_rows} calibration tokens: all-base {m.kl_all:.4f}, head alone {m.kl_head:.4f}); "
           "most sensitive: " + ", ".join(f"{s.name}={s.kl_base:.4f}" for s in top))
    return chosen, msg


def _nbytes(type_name: str, shape) -> int:
    n_rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return n_rows * block_formats.row_nbytes(type_name, shape[-1])


# ------------------------------------------------------------------ the quantizer

def quantize(src, dst, *, profile: str = "q4_0", exclude_layers=(), calibration=None,
             overwrite: bool = False, progress=True, target_bpw: float | None = None,
             type_overrides: dict | None = None) -> QuantizeReport:
    """Quantize src (a Hugging Face folder of F32/F16/BF16 safetensors, single or
    sharded, or a GGUF) to the GGUF v3 file dst.

    profile: one of PROFILES (see README "Quantize").  exclude_layers: layer
    indices (or "0,17") kept at source precision.  calibration: a text file
    (path) or str for awq-lite / int4-balanced / mixed (default: the bundled text).
    target_bpw: mixed only, the size budget in bits per weight (default 5.0).
    type_overrides: for experiments, {tensor kind ("attn_v") or GGUF name: ggml type}
    applied over the profile (row-length fallbacks still apply).
    progress: True for a tqdm bar, False for silence, or a callable
    progress(done_tensors, total_tensors, tensor_name, bytes_done, bytes_total)
    called after each tensor (bytes are source bytes).
    Raises OutputExistsError if dst exists and not overwrite; gemma_accel.Error /
    ModelFormatError for unsupported or broken sources, before writing anything.
    """
    t0 = time.perf_counter()
    _reset_peak_rss()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if target_bpw is not None and profile != "mixed":
        raise ValueError("target_bpw applies to profile='mixed' only")
    dst = Path(os.fspath(dst))
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst} exists; pass overwrite=True to replace it")
    if dst.is_dir():
        raise IsADirectoryError(f"{dst} is a directory")
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"no such directory: {dst.parent}")
    with open_checkpoint(src) as source:
        if os.path.exists(dst) and os.path.samefile(dst, source.path):
            raise ValueError("dst must not be the source file")
        exclude = _parse_layers(exclude_layers, source.hparams["n_layer"])
        notes = []
        if source.kind == "gguf" and any(t.src_type not in ("F32", "F16", "BF16") for t in source.tensors):
            notes.append(f"requantized from a quantized GGUF (general.file_type "
                         f"{source.metadata.get('general.file_type')}): "
                         "quality is bounded by the source's")
        col_scales, norm_scales, promote = {}, {}, set()
        if profile == "awq-lite":
            from . import awq, calibration as calib
            stats = calib.collect(source, calib.calibration_text(calibration))
            col_scales, norm_scales, alphas = awq.search_scales(source, stats, exclude)
            notes.append("awq-lite alphas per layer: " + " ".join(f"{k}={v:.2f}" for k, v in alphas.items()))
        elif profile in LADDERS:
            promote, msg = _measured_promotions(source, profile, exclude, calibration, target_bpw)
            notes.append(msg)
        elif calibration is not None:
            raise ValueError(f"calibration applies to awq-lite, int4-balanced and mixed, not {profile!r}")
        plan = plan_types(source, profile, exclude, promote)
        for name, c in list(plan.items()):
            want = (type_overrides or {}).get(name, (type_overrides or {}).get(tensor_kind(name)))
            if want is not None and source.tensor(name).is_matrix:
                plan[name] = fit(block_formats.type_name(want), source.tensor(name).row_len)
        fallbacks = {n: c.reason for n, c in plan.items() if c.reason}
        for n, c in plan.items():
            if c.reason and "excluded" not in c.reason:
                log.info("%s: %s -> %s (%s)", n, c.wanted, c.type, c.reason)
        ftype = file_type(dict(Counter(plan[t.name].type for t in source.tensors if t.is_matrix)))
        if source.kind == "gguf":
            meta = gguf_metadata.from_gguf(source.metadata, source.metadata_types, ftype)
        else:
            meta = gguf_metadata.from_hf(source, ftype)
            if not any(k == "tokenizer.ggml.model" for k, _, _ in meta):
                notes.append("the source has no tokenizer.json: the GGUF has no tokenizer")

        tmp = dst.parent / f".{dst.name}.{os.getpid()}.tmp"
        bar = _Progress(progress, len(source.tensors), sum(t.nbytes for t in source.tensors),
                        f"quantize {profile}")
        try:
            with open(tmp, "wb") as fh:
                writer = GGUFWriter(fh)
                for key, value, vtype in meta:
                    writer.add_metadata(key, value, vtype)
                for t in source.tensors:
                    writer.add_tensor_info(t.name, t.shape, plan[t.name].type)
                writer.write_header()
                for i, t in enumerate(source.tensors, 1):
                    _write_tensor(writer, t, plan[t.name], col_scales.get(t.name),
                                  norm_scales.get(t.name), bar)
                    bar.tensor_done(i, t.name)
                writer.close()
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dst)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        finally:
            bar.close()
        n_el = sum(t.n_elements for t in source.tensors)
        data_bytes = sum(_nbytes(plan[t.name].type, t.shape) for t in source.tensors)
        report = QuantizeReport(
            src=str(source.path), dst=str(dst), profile=profile, seconds=time.perf_counter() - t0,
            input_bytes=int(source.input_bytes), output_bytes=os.path.getsize(dst), n_elements=n_el,
            bits_per_weight=8.0 * data_bytes / n_el,
            tensor_types={n: c.type for n, c in plan.items()}, fallbacks=fallbacks, notes=notes,
            peak_rss_bytes=_vm_hwm(), requantized=source.kind == "gguf")
    log.info("%s", report)
    return report


def _write_tensor(writer, t, choice: TypeChoice, col_scale, norm_scale, bar) -> None:
    """Streams one tensor: read a row chunk, convert, write, release the source pages."""
    raw = t.raw() if choice.type == t.src_type and col_scale is None and norm_scale is None else None
    if raw is not None:  # same type, untouched: copy the bytes through
        row_bytes = raw.nbytes // t.n_rows
        step = max(1, CHUNK_BYTES // max(1, row_bytes))
        writer.write_tensor_chunks(t.name, _raw_chunks(raw, row_bytes, step, t, bar))
        return
    writer.write_tensor_chunks(t.name, _quantized_chunks(t, choice.type, col_scale, norm_scale, bar))


def _quantized_chunks(t, type_name, col_scale, norm_scale, bar):
    for r0, r1 in t.chunks(CHUNK_BYTES):
        x = t.read_rows(r0, r1)
        if col_scale is not None:
            x = x * col_scale[None, :]
        if norm_scale is not None:
            x = x / norm_scale[None, :]
        if type_name == "F32":
            q = np.ascontiguousarray(x, np.float32).view(np.uint8)
        else:
            q = block_formats.quantize(x, type_name)
        yield q
        del x, q
        t.release(r0, r1)
        bar.advance(t.nbytes * (r1 - r0) // t.n_rows, t.name)


def _raw_chunks(raw, row_bytes, step, t, bar):
    for r0 in range(0, t.n_rows, step):
        r1 = min(t.n_rows, r0 + step)
        yield raw[r0 * row_bytes: r1 * row_bytes]
        t.release(r0, r1)
        bar.advance((r1 - r0) * row_bytes, t.name)
