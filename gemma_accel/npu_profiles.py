"""Device profiles for backend="npu": the sizes a static-shape NPU runtime plans with.

A profile fixes what the NPU-chunked backend compiles at load: the prefill chunk (its
static step shape), the KV capacity (max_prompt_len + min_response_len, each rounded up
to a multiple of 64 as OpenVINO's NPUW does), the scratchpad (SRAM) its tiles are planned
in, the alignment of every region, and the most device memory a budget may claim.

The presets are named after real NPUs, but the figures are assumptions taken from public
sources, listed in each profile's `sources`; where a vendor publishes no number the source
says what the guess rests on.  No preset claims to reproduce that device's speed.

    >>> from gemma_accel.npu_profiles import resolve_profile
    >>> p = resolve_profile("hexagon-v79")
    >>> p.chunk, p.n_ctx, p.sram_bytes >> 20
    (128, 1024, 8)
"""
from __future__ import annotations

import dataclasses

MiB = 1 << 20
GiB = 1 << 30


@dataclasses.dataclass(frozen=True)
class NpuProfile:
    name: str
    sram_bytes: int             # the scratchpad tiles are planned in
    device_memory_bytes: int    # the most memory_budget may be (0: no limit)
    align: int                  # every arena region starts on a multiple of this
    chunk: int                  # prefill step: tokens per chunk, a power of two dividing max_prompt_len
    max_prompt_len: int
    min_response_len: int
    sources: tuple = ()

    @property
    def n_ctx(self) -> int:
        """The KV pool's positions: prompt and response lengths, each rounded up to 64."""
        up = lambda n: (n + 63) // 64 * 64  # noqa: E731
        return up(self.max_prompt_len) + up(self.min_response_len)

    def check(self):
        ints = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.type == "int"}
        for key, v in ints.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if key == "device_memory_bytes" else 1):
                raise ValueError(f"npu profile {self.name!r}: {key} must be a positive int, got {v!r}")
        if self.chunk & (self.chunk - 1) or self.max_prompt_len % self.chunk:
            # NPUW refuses the same at compile time
            raise ValueError(f"npu profile {self.name!r}: chunk {self.chunk} must be a power of two dividing "
                             f"max_prompt_len {self.max_prompt_len}")
        if self.align & (self.align - 1) or self.align < 16:
            raise ValueError(f"npu profile {self.name!r}: align {self.align} must be a power of two >= 16")
        if self.sram_bytes < 64 << 10:
            raise ValueError(f"npu profile {self.name!r}: sram_bytes {self.sram_bytes} is below 64 KiB")
        return self


PROFILES = {
    "generic": NpuProfile(
        "generic", sram_bytes=8 * MiB, device_memory_bytes=0, align=64, chunk=64, max_prompt_len=384,
        min_response_len=128,
        sources=("profile=None: a small context and chunk, so the default model runs under 64 MiB",
                 "sram 8 MiB: the VTCM size llama.cpp's Hexagon backend falls back to (ggml-hexagon htp/main.c)")),
    "intel-npu-lnl": NpuProfile(
        "intel-npu-lnl", sram_bytes=4 * MiB, device_memory_bytes=16 * GiB, align=64, chunk=256,
        max_prompt_len=1024, min_response_len=128,
        sources=(
            "max_prompt_len 1024, min_response_len 128, KV capacity rounded to 64: OpenVINO NPUW defaults "
            "(intel_npu/config/npuw.hpp, llm_compiled_model.cpp)",
            "chunk 256: NPUW's earlier PREFILL_CHUNK_SIZE default, and GGML_OPENVINO_PREFILL_CHUNK_SIZE in "
            "llama.cpp's OpenVINO backend",
            "sram 4 MiB [assumption]: Intel publishes no scratchpad size for NPU 4; its one public figure is the "
            "8 MB memory-side cache it shares with the CPU and GPU (Tom's Hardware, Lunar Lake deep dive), halved",
            "device memory 16 GiB [assumption]: the NPU uses system memory; Lunar Lake packages 16 or 32 GB",
        )),
    "hexagon-v79": NpuProfile(
        "hexagon-v79", sram_bytes=8 * MiB, device_memory_bytes=2 * GiB, align=2048, chunk=128,
        max_prompt_len=896, min_response_len=128,
        sources=(
            "sram 8 MiB: VTCM as llama.cpp's Hexagon backend sizes it when the query fails (htp/main.c); exact "
            "sizes per SoC are unpublished [assumption]",
            "device memory 2 GiB: one HTP session (llama.cpp docs/backend/hexagon/README.md)",
            "align 2 KiB: one 32x32 fp16 HMX tile",
            "chunk 128 and a 1024-token context: ExecuTorch's Qualcomm llama example (--prefill_ar_len 128, "
            "--max_seq_len up to 1024), i.e. an AR-128 / AR-1 pair of QNN context binaries",
        )),
    "xdna2": NpuProfile(
        "xdna2", sram_bytes=4 * MiB, device_memory_bytes=16 * GiB, align=64, chunk=128,
        max_prompt_len=1920, min_response_len=128,
        sources=(
            "sram 4 MiB: 8 columns, one 512 KB memory tile each (AMD UG1603 AIE-ML v2 memory tile; mlir-aie "
            "architecture reference: NPU2 is 8 x 4)",
            "context 2048: Ryzen AI 1.4's cap for compiled LLMs (later releases ship 4K and 16K builds)",
            "chunk 128 [assumption]: AMD publishes no chunked-prefill size for XDNA2",
            "device memory 16 GiB [assumption]: the NPU uses system memory",
        )),
}


def resolve_profile(profile) -> NpuProfile:
    """None (the generic profile), a preset's name, an NpuProfile, or a dict of a profile's
    fields (a custom device: missing fields come from the generic profile)."""
    if profile is None:
        return PROFILES["generic"]
    if isinstance(profile, NpuProfile):
        return profile.check()
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown npu profile {profile!r}; presets: {', '.join(PROFILES)}")
        return PROFILES[profile]
    if isinstance(profile, dict):
        fields = {f.name for f in dataclasses.fields(NpuProfile)}
        unknown = set(profile) - fields
        if unknown:
            raise ValueError(f"npu profile: unknown field(s) {', '.join(sorted(unknown))}; "
                             f"fields: {', '.join(sorted(fields))}")
        from .model import parse_bytes
        values = dict(profile)
        for key in ("sram_bytes", "device_memory_bytes"):
            if isinstance(values.get(key), str):
                values[key] = parse_bytes(values[key])
        values.setdefault("name", "custom")
        values["sources"] = tuple(values.get("sources", ()))
        return dataclasses.replace(PROFILES["generic"], **values).check()
    raise ValueError(f"profile must be None, a preset name, a dict or an NpuProfile, got {type(profile).__name__}")
