"""gemma_accel vs llama.cpp on the same GGUF files, same thread count (`make bench`).

Every measurement runs in a child process of its own (clean load time and
peak RSS), engines alternate run by run, and each figure is the median of
--runs runs.  llama.cpp runs from its Python bindings (llama-cpp-python, built from its PyPI
source and pinned in pyproject.toml), in a child process per run.

Per file and engine: load to first token (a fresh process: import, load the
model, evaluate a 16-token prompt, sample one token), prefill tokens/s for
128- and 512-token prompts, decode tokens/s over 128 greedy tokens, peak RSS
(VmHWM).  On the default file also decode tokens/s at several context
lengths (the PNG) and a per-op profile of gemma_accel (GA_PROFILE=1).
The machine's streaming read bandwidth gives the decode limit: weight bytes
read per decoded token (every matrix of every layer + the output head; not
the embedding row lookup) / bandwidth.

Outputs: benchmarks/results/bench.csv, bench.md, decode_vs_context.png.

    python benchmarks/bench.py [--runs 5] [--threads 2] [--files default,q4_0,q8_0]

With --backend vulkan (make bench BACKEND=vulkan) it measures the Vulkan backend on the
first Vulkan device instead: decode and prefill-512 tok/s, load time and device memory
on the default file and its Q8_0 requantization, against gemma_accel's own --threads CPU
decode (target: 5x) and, when --llama-vulkan-python names a Python whose llama_cpp was
built with -DGGML_VULKAN=ON, llama.cpp's Vulkan build on the same file (target: 1.0x).
Output: benchmarks/results/bench_vulkan.md.  A CPU Vulkan device (lavapipe) is refused:
its figures say nothing about a GPU.

With --backend npu (make bench BACKEND=npu): the default file under 64 and 128 MiB budgets
(prefill chunks of 256), against the unconstrained CPU backend and the limit of re-reading
the weights every token (bytes per token / page-cache read bandwidth), with llama.cpp's peak
RSS beside ours.  Output: benchmarks/results/bench_npu.md.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))  # this checkout's gemma_accel, not an installed one
sys.path.insert(0, str(ROOT / "scripts"))
from extra_deps import requirements  # noqa: E402  (the one reader of pyproject's extras)

LLAMA_CPP_SPEC = next(r for r in requirements("test") if r.startswith("llama-cpp-python"))
CONTEXTS = (0, 512, 1024, 2048)  # decode tok/s measured after this many context tokens
CAPPED_TIMEOUT = 240  # s: llama.cpp under the memory cap either dies or thrashes; a run it finishes takes ~20 s
NPU_CTX = 1024        # backend npu: the context (prefill 512 + decode 128 fit)
NPU_CHUNK = 256       # ...and its prefill chunk
NPU_BUDGETS = (64 << 20, 128 << 20)
N_CTX = 4096
PROMPT_LTFT = 16      # prompt tokens for load-to-first-token and the decode run
DECODE_TOKENS = 128
CURVE_TOKENS = 32     # decoded tokens per context length on the curve

TARGETS = {  # issue 5
    "decode": 1.25,          # gemma_accel decode tok/s / llama.cpp's
    "prefill": 1.0,          # prefill tok/s ratio (512-token prompt)
    "load": 0.5,             # load-to-first-token time ratio (at most)
    "bandwidth": 0.75,       # decode tok/s / bandwidth limit
}

ENGINES = {
    # name: (engine kind, act_bits)
    "gemma_accel": ("ga", 16),
    "gemma_accel (act_bits=8)": ("ga", 8),
    "llama.cpp": ("llama", None),
}

# --------------------------------------------------------------------------- children


def _vmhwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class _GA:
    def __init__(self, path, threads, act_bits, backend="cpu", memory_budget=None):
        import gemma_accel
        from gemma_accel import _core
        self._core_mod = _core
        if backend == "npu":  # its prefill chunk is NPU_CHUNK tokens, its context NPU_CTX
            self.m = gemma_accel.Model(path, n_ctx=NPU_CTX, n_batch=NPU_CHUNK, n_threads=threads, act_bits=act_bits,
                                       backend="npu", memory_budget=memory_budget)
        else:
            self.m = gemma_accel.load(path, n_ctx=N_CTX, n_threads=threads, act_bits=act_bits, backend=backend)
        if self.m.backend != backend:
            raise RuntimeError(f"the model runs on {self.m.backend}: {self.m._core.fallback}")
        self.core = self.m._core
        self.n_batch = self.core.n_batch
        self.sampler = _core.Sampler(self.m.n_vocab, 0.0, 0, 1.0, 0.0, 1.0, 64, 0)

    def feed(self, ids):
        """Evaluate ids after the cached positions; returns the greedy next token."""
        for s in range(0, len(ids), self.n_batch):
            self.core.eval(ids[s:s + self.n_batch], logits="last" if s + self.n_batch >= len(ids) else "none")
        return self.core.sample(self.sampler)

    def step(self, tok):
        return self.core.step(tok, self.sampler)

    def truncate(self, n):
        self.core.truncate(n)

    def profile(self, reset=False):
        return self.core.profile(reset=reset)


class _Llama:
    def __init__(self, path, threads, gpu=False, n_ctx=N_CTX):
        import numpy as np
        import llama_cpp
        self.np = np
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                                   n_threads_batch=threads, verbose=False, n_gpu_layers=-1 if gpu else 0)
        self.n_vocab = self.llm.n_vocab()

    def _argmax(self):
        logits = self.np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(self.n_vocab,))
        return int(logits.argmax())

    def feed(self, ids):
        self.llm.eval(ids)
        return self._argmax()

    def step(self, tok):
        self.llm.eval([tok])
        return self._argmax()

    def truncate(self, n):
        self.llm.n_tokens = n  # eval() drops the KV cells from n_tokens on

    def profile(self, reset=False):
        return None


def _decode(eng, first, n):
    """n greedy steps from token first; returns tok/s."""
    tok = first
    t0 = time.perf_counter()
    for _ in range(n):
        tok = eng.step(tok)
    return n / (time.perf_counter() - t0)


def child_main(args):
    t_start = time.perf_counter()
    ids = json.loads(Path(args.ids).read_text())
    if args.engine == "ga":
        if args.kernel_set:
            from gemma_accel import _core
            _core.set_kernel_set(args.kernel_set)
        eng = _GA(args.model, args.threads, args.act_bits, args.backend, args.memory_budget)
    else:
        eng = _Llama(args.model, args.threads, gpu=args.backend == "vulkan", n_ctx=args.n_ctx or N_CTX)
    t_loaded = time.perf_counter()
    first = eng.feed(ids[:PROMPT_LTFT])
    t_first = time.perf_counter()
    out = {"load_s": t_loaded - t_start, "load_to_first_token_s": t_first - t_start}
    if args.task == "main":
        out["decode_tps"] = _decode(eng, first, DECODE_TOKENS)
        for n in (128, 512):
            eng.truncate(0)
            t0 = time.perf_counter()
            eng.feed(ids[:n])
            out[f"prefill{n}_tps"] = n / (time.perf_counter() - t0)
    elif args.task == "curve":
        eng.truncate(0)
        done = 0
        for c in CONTEXTS:
            n = max(c, PROMPT_LTFT)
            first = eng.feed(ids[done:n])
            done = n
            out[f"decode_ctx{c}_tps"] = _decode(eng, first, CURVE_TOKENS)
            eng.truncate(done)
    elif args.task == "profile":
        eng.profile(reset=True)
        eng.truncate(0)
        eng.feed(ids[:512])
        out["profile_prefill512"] = eng.profile(reset=True)
        eng.truncate(0)
        first = eng.feed(ids[:PROMPT_LTFT])
        eng.profile(reset=True)
        out["decode_tps"] = _decode(eng, first, DECODE_TOKENS)
        out["profile_decode"] = eng.profile(reset=True)
    out["peak_rss_mib"] = _vmhwm_kib() / 1024
    if args.engine == "ga":
        out["backend_mib"] = eng.core.reserved_bytes / 2**20  # Vulkan: device memory, weights included
    print("BENCH_JSON " + json.dumps(out), flush=True)


# --------------------------------------------------------------------------- orchestration


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def llama_python():
    """The Python that runs llama.cpp: this one, with the llama-cpp-python that `make test`
    installs (built from its PyPI source, pinned in pyproject.toml's test extra)."""
    want = LLAMA_CPP_SPEC.split("==")[1]
    try:
        from importlib.metadata import version
        have = version("llama-cpp-python")
    except Exception:
        have = None
    if have != want:
        sys.exit(f"bench needs {LLAMA_CPP_SPEC} in this environment (found {have}): run `make bench`, "
                 f"which installs it with the test references")
    return Path(sys.executable)


QUANTIZE_SNIPPET = """
import sys, llama_cpp
src, dst, ftype = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = llama_cpp.llama_model_quantize_default_params()
p.ftype = ftype
p.allow_requantize = True
p.nthread = 2
rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), p)
sys.exit(rc)
"""


def prepare_files(names):
    import gemma_accel
    src = Path(gemma_accel.default_model_path())
    files = {}
    for name in names:
        if name == "default":
            files["Q4_K_M (default)"] = src
            continue
        ftype = {"q4_0": 2, "q8_0": 7}[name]
        dst = CACHE / f"{src.stem.replace('q4_k_m', name)}.gguf"
        if not dst.exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            log(f"quantizing {src.name} -> {dst.name} with llama.cpp's quantizer (requantized from Q4_K_M)")
            tmp = dst.with_suffix(".tmp")
            subprocess.run([str(llama_python()), "-c", QUANTIZE_SNIPPET, str(src), str(tmp), str(ftype)],
                           check=True, capture_output=True)
            tmp.rename(dst)
        files[f"{name.upper()} (requantized)"] = dst
    return files


def weight_bytes_per_token(path):
    """Bytes of weights one decoded token reads: every 2-D matrix except the embedding
    table, plus the output head (the embedding table itself when tied)."""
    from gemma_accel.gguf_file import GGUFFile
    with GGUFFile(path) as f:
        total = 0
        types = {}
        macs = 0
        for name, t in f.tensors.items():
            if name == "token_embd.weight":
                continue
            total += t.nbytes
            if len(t.shape) == 2 and name != "output.weight":
                macs += t.n_elements
            if len(t.shape) == 2:
                types[t.type] = types.get(t.type, 0) + t.nbytes
        if "output.weight" not in f.tensors:
            t = f.tensors["token_embd.weight"]
            total += t.nbytes
            types[t.type] = types.get(t.type, 0) + t.nbytes
        weight_bytes_per_token.layer_macs = macs
        return total, types


KERNEL_SET = None  # --kernel-set: gemma_accel's kernels forced to this set (default: the best runnable)


CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")


def memory_cgroup(limit):
    """A cgroup-v1 memory cgroup capped at limit bytes (page cache included), or None where
    this machine does not let us make one; its path."""
    path = CGROUP_V1_MEMORY / f"gemma_accel_bench_{os.getpid()}"
    try:
        path.mkdir(exist_ok=True)
        (path / "memory.limit_in_bytes").write_text(str(limit))
        return path
    except OSError:
        return None


def run_child(engine, act_bits, model, ids_path, threads, task, root=ROOT, backend="cpu", python=None,
              memory_budget=None, cgroup=None, n_ctx=None, timeout=None):
    """One measurement in a fresh process; root: the checkout whose gemma_accel (and bench.py) runs."""
    py = python or (sys.executable if engine == "ga" else str(llama_python()))
    cmd = [py, str(Path(root) / "benchmarks" / "bench.py"), "--child", "--engine", engine, "--model", str(model),
           "--ids", str(ids_path), "--threads", str(threads), "--task", task]
    if backend != "cpu":  # (ab.py runs older checkouts' bench.py, which may not know the flag)
        cmd += ["--backend", backend]
    if memory_budget:
        cmd += ["--memory-budget", str(memory_budget)]
    if n_ctx:
        cmd += ["--n-ctx", str(n_ctx)]
    if act_bits:
        cmd += ["--act-bits", str(act_bits)]
    if engine == "ga" and KERNEL_SET:
        cmd += ["--kernel-set", KERNEL_SET]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", str(threads))
    if task == "profile":
        env["GA_PROFILE"] = "1"
    join = (lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid()))) if cgroup else None
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(root), preexec_fn=join,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{engine} {task} did not finish within {timeout} s") from None
    for line in res.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise RuntimeError(f"{engine} {task} failed ({res.returncode}):\n{res.stderr[-3000:]}")


def bench_ids():
    """Deterministic token ids of ordinary English (the same ids go to both engines)."""
    import gemma_accel
    from gemma_accel.gguf_file import GGUFFile
    from gemma_accel.tokenizer import Tokenizer
    text = (ROOT / "README.md").read_text()
    for p in sorted((ROOT / "gemma_accel").glob("*.py")):
        text += "\n" + p.read_text()
    with GGUFFile(gemma_accel.default_model_path()) as f:
        tok = Tokenizer.from_gguf_metadata(f.metadata)
    ids = tok.encode(text, add_bos=True, special=False)
    need = max(CONTEXTS) + 64
    while len(ids) < need:
        ids += ids[1:]
    return ids[:need]


def machine_description(threads):
    info = {"cpu": "?", "cores": os.cpu_count(), "flags": ""}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and info["cpu"] == "?":
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not info["flags"]:
                fl = line.split(":", 1)[1].split()
                info["flags"] = " ".join(f for f in ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni")
                                         if f in fl)
            if line.startswith("cache size") and "cache" not in info:
                info["cache"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            k = line.split(":", 1)[0].strip()
            if k in ("L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor", "Thread(s) per core"):
                info[k] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        info["loadavg"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        info["loadavg"] = ["?"] * 3
    info["threads_used"] = threads
    info["kernel"] = platform.release()
    info["python"] = platform.python_version()
    return info


def med(rows, key):
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else float("nan")


def refresh_page_cache(path: Path) -> None:
    """Drop the file's cached pages and read it once, sequentially.

    Both engines mmap the file, so they run on whatever pages the kernel cached for it, and
    how the file got there matters: on this VM the same 178 MB Q8_0 head took 12 ms per
    matvec on pages cached by scattered reads and 10 ms on pages cached by readahead (large
    folios, fewer TLB misses).  Re-reading every file the same way makes runs comparable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while os.read(fd, 8 << 20):
            pass
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--engine")
    ap.add_argument("--model")
    ap.add_argument("--ids")
    ap.add_argument("--task", default="main")
    ap.add_argument("--act-bits", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--curve-runs", type=int, default=3)
    ap.add_argument("--files", default="default,q4_0,q8_0")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--kernel-set", help="force gemma_accel's kernel set (portable, avx2, avx512), "
                    "e.g. avx2 on an AVX-512 machine to measure the AVX2 path")
    ap.add_argument("--backend", default="cpu", choices=("cpu", "vulkan", "npu"))
    ap.add_argument("--memory-budget", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--n-ctx", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--llama-vulkan-python", help="a Python whose llama_cpp is built with -DGGML_VULKAN=ON")
    args = ap.parse_args()
    if args.child:
        return child_main(args)
    if args.backend == "vulkan":
        return vulkan_main(args)
    if args.backend == "npu":
        return npu_main(args)
    global KERNEL_SET
    KERNEL_SET = args.kernel_set

    t_begin = time.time()
    load_before = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    llama_py = llama_python()
    llama_version = subprocess.run([str(llama_py), "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                                   capture_output=True, text=True).stdout.strip()
    llama_sysinfo = subprocess.run([str(llama_py), "-c", "import llama_cpp; "
                                    "print(llama_cpp.llama_print_system_info().decode())"],
                                   capture_output=True, text=True).stdout.strip()
    llama_version += f"; its CPU features: `{llama_sysinfo}`" if llama_sysinfo else ""
    import gemma_accel
    from gemma_accel import _core
    if KERNEL_SET:
        _core.set_kernel_set(KERNEL_SET)  # also names the set in the report
    files = prepare_files([s.strip() for s in args.files.split(",") if s.strip()])
    ids = bench_ids()
    ids_path = CACHE / "bench_ids.json"
    CACHE.mkdir(parents=True, exist_ok=True)
    ids_path.write_text(json.dumps(ids))

    log(f"measuring read bandwidth with {args.threads} threads (1 GiB buffer)")
    bw = _core.mem_read_bandwidth(1024, args.threads, 5)
    bw1 = _core.mem_read_bandwidth(1024, 1, 3)
    log(f"read bandwidth {bw:.1f} GB/s ({args.threads} threads), {bw1:.1f} GB/s (1 thread)")
    bw_samples = [bw]

    results = {}   # file -> engine -> list of run dicts
    curve = {}     # engine -> list of run dicts
    profile = {}
    wbytes = {}
    for label, path in files.items():
        wbytes[label] = weight_bytes_per_token(path)
        refresh_page_cache(Path(path))
        if label != next(iter(files)):  # the probe also runs between files: it drifts during a run
            bw_samples.append(_core.mem_read_bandwidth(1024, args.threads, 5))
        # the secondary act_bits=8 row on the default file only (saves a third of the time)
        engines = [e for e in ENGINES if "act_bits=8" not in e or label.startswith("Q4_K_M")]
        results[label] = {e: [] for e in engines}
        for run in range(args.runs):
            order = engines if run % 2 == 0 else list(reversed(engines))
            for e in order:
                kind, bits = ENGINES[e]
                # a probe right before each run: the host's bandwidth drifts by up to 1.5x within
                # a run, so each decode figure is set against the bandwidth of its own moment
                run_bw = _core.mem_read_bandwidth(1024, args.threads, 3)
                r = run_child(kind, bits, path, ids_path, args.threads, "main")
                r["bw_gbs"] = run_bw
                results[label][e].append(r)
                log(f"{label} run {run + 1}/{args.runs} {e}: load->1st {r['load_to_first_token_s']:.3f}s "
                    f"pp128 {r['prefill128_tps']:.0f} pp512 {r['prefill512_tps']:.0f} "
                    f"tg {r['decode_tps']:.1f} tok/s rss {r['peak_rss_mib']:.0f} MiB (probe {run_bw:.1f} GB/s)")
        if path == files.get("Q4_K_M (default)"):
            for run in range(args.curve_runs):
                order = list(ENGINES) if run % 2 == 0 else list(reversed(ENGINES))
                for e in order:
                    kind, bits = ENGINES[e]
                    curve.setdefault(e, []).append(run_child(kind, bits, path, ids_path, args.threads, "curve"))
            log("decode-vs-context curve done")
            profile = run_child("ga", 16, path, ids_path, args.threads, "profile")
            profile8 = run_child("ga", 8, path, ids_path, args.threads, "profile")
            profile = {"act16": profile, "act8": profile8}

    # shared hosts vary: measure again at the end; the median of all probes sets the limit
    bw_samples.append(_core.mem_read_bandwidth(1024, args.threads, 5))
    bw = statistics.median(bw_samples)
    log(f"read bandwidth at the end {bw_samples[-1]:.1f} GB/s; probes "
        f"{' / '.join(f'{x:.1f}' for x in bw_samples)}, using their median {bw:.1f} GB/s")
    machine = machine_description(args.threads)
    machine["bw_samples"] = bw_samples
    machine["loadavg_before"] = load_before
    write_outputs(out, args, files, results, curve, profile, wbytes, bw, bw1, llama_version,
                  machine, time.time() - t_begin)


def vulkan_main(args):
    """make bench BACKEND=vulkan: the Vulkan backend on this machine's first Vulkan device."""
    global KERNEL_SET
    KERNEL_SET = None
    from gemma_accel import _core
    devices, missing = _core.vulkan_devices()
    if not devices:
        sys.exit(f"bench: no Vulkan device ({missing})")
    dev = devices[0]
    if dev["type"] == "cpu":
        log(f"bench: the only Vulkan device is {dev['name']}, a CPU driver (lavapipe): it runs the tests, "
            "but its speed says nothing about a GPU; nothing measured")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = prepare_files(["default", "q8_0"])
    ids = bench_ids()
    CACHE.mkdir(parents=True, exist_ok=True)
    ids_path = CACHE / "bench_ids.json"
    ids_path.write_text(json.dumps(ids))
    engines = {"gemma_accel vulkan": ("ga", "vulkan", None), f"gemma_accel cpu ({args.threads} threads)": ("ga", "cpu", None)}
    if args.llama_vulkan_python:
        engines["llama.cpp vulkan"] = ("llama", "vulkan", args.llama_vulkan_python)
    rows = {}
    for label, path in files.items():
        for name, (kind, backend, py) in engines.items():
            runs = [run_child(kind, 16 if kind == "ga" else None, path, ids_path, args.threads, "main",
                              backend=backend, python=py) for _ in range(args.runs)]
            rows[(label, name)] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            r = rows[(label, name)]
            log(f"{label} {name}: decode {r['decode_tps']:.1f} tok/s, prefill512 {r['prefill512_tps']:.0f} tok/s, "
                f"load {r['load_s']:.2f} s")
    L = [f"# Vulkan backend: {dev['name']} ({dev['type']}, {dev['memory_bytes'] / 2**30:.0f} GiB)", "",
         f"{datetime.date.today()}; medians of {args.runs} runs, each in a fresh process; "
         f"CPU rows on {args.threads} threads.", "",
         "| file | engine | decode tok/s | prefill-512 tok/s | load s | device / backend MiB |", "|---|---|---|---|---|---|"]
    for (label, name), r in rows.items():
        L.append(f"| {label} | {name} | {r['decode_tps']:.1f} | {r['prefill512_tps']:.0f} | {r['load_s']:.2f} | "
                 f"{r.get('backend_mib', float('nan')):.0f} |")
    L.append("")
    for label in files:
        vk = rows[(label, "gemma_accel vulkan")]["decode_tps"]
        cpu = rows[(label, f"gemma_accel cpu ({args.threads} threads)")]["decode_tps"]
        L.append(f"- {label}: Vulkan decode {vk / cpu:.1f}x our {args.threads}-thread CPU decode (target 5x)")
        if (label, "llama.cpp vulkan") in rows:
            L.append(f"- {label}: {vk / rows[(label, 'llama.cpp vulkan')]['decode_tps']:.2f}x llama.cpp's Vulkan "
                     "decode (target 1.0x)")
    (out / "bench_vulkan.md").write_text("\n".join(L) + "\n")
    log(f"wrote {out / 'bench_vulkan.md'}")
    return 0


def page_cache_read_bandwidth(path, seconds=2.0):
    """GB/s of pread from a file in the page cache into one 2 MiB buffer (what the npu
    backend does for every weight, every token)."""
    size = os.path.getsize(path)
    buf = bytearray(2 << 20)
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        for off in range(0, size, len(buf)):  # warm the page cache
            os.preadv(fd, [buf], off)
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for off in range(0, size, len(buf)):
                done += os.preadv(fd, [buf], off)
        return done / (time.perf_counter() - t0) / 1e9


def npu_main(args):
    """make bench BACKEND=npu: the default model under 64 and 128 MiB budgets against the
    unconstrained CPU backend, and against re-reading the weights every step."""
    global KERNEL_SET
    KERNEL_SET = None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = prepare_files(["default"])
    label, path = next(iter(files.items()))
    ids = bench_ids()
    CACHE.mkdir(parents=True, exist_ok=True)
    ids_path = CACHE / "bench_ids.json"
    ids_path.write_text(json.dumps(ids))
    bw = page_cache_read_bandwidth(path)
    # a decoded token reads every layer matrix and the whole output head (tied: the embedding)
    per_token, _ = weight_bytes_per_token(path)
    log(f"page-cache read bandwidth {bw:.1f} GB/s; {per_token / 1e6:.0f} MB of weights read per token: "
        f"limit {bw * 1e9 / per_token:.1f} tok/s")
    engines = {f"gemma_accel cpu ({args.threads} threads)": ("ga", "cpu", None, None)}
    for b in NPU_BUDGETS:
        engines[f"gemma_accel npu {b >> 20} MiB"] = ("ga", "npu", None, b)
    engines["llama.cpp (mmap, no memory cap)"] = ("llama", "cpu", None, None)
    # llama.cpp with mmap in a memory cgroup capped at the larger budget (its page cache counts)
    cap = NPU_BUDGETS[-1]
    cgroup = memory_cgroup(cap)
    if cgroup:
        engines[f"llama.cpp (mmap, cgroup memory cap {cap >> 20} MiB)"] = ("llama", "cpu", None, None)
    rows, failed = {}, {}
    for name, (kind, backend, py, budget) in engines.items():
        cg = cgroup if "cgroup" in name else None
        if cg:  # page cache is charged to the cgroup that reads it first: evict the file, so its pages count
            with open(path, "rb") as f:
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        try:
            runs = []
            for _ in range(args.runs):
                # npu: the read bandwidth measured just before each run, which then gets its own
                # limit (this machine's bandwidth drifts by a third between minutes)
                run_bw = page_cache_read_bandwidth(path, seconds=1.0) if backend == "npu" else None
                r = run_child(kind, 16 if kind == "ga" else None, path, ids_path, args.threads, "main",
                              backend=backend, python=py, memory_budget=budget, cgroup=cg,
                              n_ctx=NPU_CTX if cg else None, timeout=CAPPED_TIMEOUT if cg else None)
                if run_bw:
                    r["bw_gbs"] = run_bw
                    r["of_limit"] = r["decode_tps"] / (run_bw * 1e9 / per_token)
                runs.append(r)
        except RuntimeError as e:  # the capped llama.cpp: the kernel's OOM killer (exit -9)
            if not cg:
                raise
            failed[name] = ("killed by the kernel (SIGKILL: out of memory under the cap)" if "(-9)" in str(e)
                            else f"thrashing: no result within {CAPPED_TIMEOUT} s (the file re-read from the page "
                                 "cache under the cap)" if "did not finish" in str(e)
                            else str(e).splitlines()[0])
            log(f"{name}: {failed[name]}")
            continue
        rows[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        r = rows[name]
        log(f"{name}: decode {r['decode_tps']:.1f} tok/s, prefill512 {r['prefill512_tps']:.0f} tok/s, "
            f"peak RSS {r['peak_rss_mib']:.0f} MiB")
    cpu = rows[f"gemma_accel cpu ({args.threads} threads)"]
    L = [f"# NPU-chunked backend: {label}", "",
         f"{datetime.date.today()}; medians of {args.runs} runs, each in a fresh process, {args.threads} threads; "
         f"npu: n_ctx {NPU_CTX}, prefill chunk {NPU_CHUNK}.", "",
         f"Re-read limit: {per_token / 1e6:.0f} MB of weights per token (every layer matrix and the output head) / "
         "the page-cache read bandwidth (pread into a 2 MiB buffer), measured for one second just before each npu "
         f"run (at the start: {bw:.1f} GB/s = {bw * 1e9 / per_token:.1f} tok/s); each run's decode is taken against "
         "its own limit, and the table gives the medians.", "",
         "| engine | decode tok/s | prefill-512 tok/s | peak RSS MiB | read bandwidth GB/s | decode / re-read limit |",
         "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        extra = f"{r['bw_gbs']:.1f} | {r['of_limit']:.0%}" if "of_limit" in r else " | "
        L.append(f"| {name} | {r['decode_tps']:.1f} | {r['prefill512_tps']:.0f} | {r['peak_rss_mib']:.0f} | {extra} |")
    for name, why in failed.items():
        L.append(f"| {name} | did not run: {why} | | | | |")
    L.append("")
    for b in NPU_BUDGETS:
        r = rows[f"gemma_accel npu {b >> 20} MiB"]
        L.append(f"- npu {b >> 20} MiB: decode {r['of_limit']:.0%} of the re-read limit (target 70%); "
                 f"prefill {r['prefill512_tps'] / cpu['prefill512_tps']:.2f}x the unconstrained CPU (target 0.5x)")
    if cgroup:
        L.append(f"- llama.cpp has no budgeted mode: it runs with mmap, unconstrained (n_ctx {N_CTX}) and in a cgroup-v1 "
                 f"memory cgroup capped at {cap >> 20} MiB (n_ctx {NPU_CTX}, as ours), the file evicted from the page cache "
                 "first so that its pages are charged to the cgroup; peak RSS beside ours.")
        try:
            cgroup.rmdir()
        except OSError:
            pass
    else:
        L.append("- llama.cpp has no budgeted mode; its row is an unconstrained mmap run (peak RSS beside ours). No "
                 "memory-capped run: this machine lets us make no cgroup-v1 memory cgroup, and systemd-run needs "
                 "systemd as PID 1.")
    (out / "bench_npu.md").write_text("\n".join(L) + "\n")
    log(f"wrote {out / 'bench_npu.md'}")
    return 0


# --------------------------------------------------------------------------- outputs


def q4_0_bullet(results):
    """The Q4_0 file, where llama.cpp is strongest: one bullet, or none without that file."""
    per = results.get("Q4_0 (requantized)")
    if not per:
        return []
    ga, ll = per["gemma_accel"], per["llama.cpp"]
    return [
        f"- **Q4_0 file** (decode {med(ga, 'decode_tps') / med(ll, 'decode_tps'):.2f}x, prefill 512 "
        f"{med(ga, 'prefill512_tps') / med(ll, 'prefill512_tps'):.2f}x): llama.cpp repacks Q4_0 at load "
        f"into interleaved rows (REPACK in its CPU features) and runs int8 x Q4_0 GEMM/GEMV with AVX-512 "
        f"VNNI; it is its fastest format here (prefill {med(ll, 'prefill512_tps'):.0f} tok/s against "
        f"{med(results['Q4_K_M (default)']['llama.cpp'], 'prefill512_tps'):.0f} on Q4_K_M).  With the avx512 "
        f"kernel set our prefill multiplies Q4_0 as 16-bit codes in the int16 GEMM (csrc/cpu/ga_gemm_q16.h), at "
        f"the throughput of vpdpwssd, which does half the products of llama.cpp's int8 vpdpbusd: prefill stays "
        f"near 1.0x here.  Decode runs on Q4_0 rows interleaved by 8 (csrc/cpu/ga_x8.h).  Without AVX-512 VNNI both "
        f"fall back to f32 sgemm and the AVX2 dual int8 kernels, and llama.cpp keeps the lead on this file."]


def analysis(profile, results, wbytes, bw, threads):
    """Where the time goes, in words, from the profile and the medians of the default file."""
    label = "Q4_K_M (default)"
    per = results[label]

    def ms(mode, key, ops=None):
        p = profile[mode][key]
        vals = p["ops"] if ops is None else {k: v for k, v in p["ops"].items() if k in ops}
        return 1e3 * sum(vals.values()) / max(1, p["tokens"])

    mm = ("matmul_qkv", "matmul_attn_out", "matmul_gate_up", "matmul_down")
    head16, head8 = ms("act16", "profile_decode", ["output_head"]), ms("act8", "profile_decode", ["output_head"])
    tot16, tot8 = ms("act16", "profile_decode"), ms("act8", "profile_decode")
    lay16, lay8 = ms("act16", "profile_decode", mm), ms("act8", "profile_decode", mm)
    pf_mm = ms("act16", "profile_prefill512", mm)
    pf_att = ms("act16", "profile_prefill512", ["attention"])
    pf_tot = ms("act16", "profile_prefill512")
    gmacs = getattr(weight_bytes_per_token, "layer_macs", 0) / (pf_mm * 1e-3) / 1e9 if pf_mm else float("nan")
    dec = med(per["gemma_accel"], "decode_tps") / med(per["llama.cpp"], "decode_tps")
    dec8 = med(per.get("gemma_accel (act_bits=8)", []), "decode_tps") / med(per["llama.cpp"], "decode_tps")
    pre = med(per["gemma_accel"], "prefill512_tps") / med(per["llama.cpp"], "prefill512_tps")
    head_mb = wbytes[label][1].get("Q8_0", 0) / 1e6
    return "\n".join([
        "### What limits each figure\n",
        f"- **Decode** ({dec:.2f}x llama.cpp in the exact default mode, {dec8:.2f}x with act_bits=8): the exact "
        f"mode quantizes every activation block to 16-bit codes (csrc/cpu/ga_act16.h).  In the avx512 kernel set "
        f"(AVX-512 VL/BW/VNNI, 256-bit vectors): the Q5_0 layer weights (q, k, gate, up) are interleaved by 8 "
        f"rows once at load (csrc/cpu/ga_x8.h, the same bytes again), so one vector lane is one row, vpdpbusd "
        f"multiplies 4 codes by 4 broadcast activation bytes and 8 rows' block sums meet their 8 scales in one "
        f"multiply-add (one thread, in cache: 32 GB/s of weights against 13 for the row kernel); Q4_0/Q8_0 rows "
        f"multiply int16 codes (one vpmaddwd and one vpdpwssd per block, csrc/cpu/ga_vecdot_avx512.c); Q4_K/Q6_K "
        f"fold the sub-block scale into int16 codes (13 and 14 GB/s against 10 and 13 for the AVX2 dual "
        f"kernels).  Decode attention reads each cached key once for the query heads that share it and splits "
        f"the keys over the threads.  Per token that costs {tot16:.2f} ms against {tot8:.2f} ms for act_bits=8: "
        f"the output head (the tied 262144 x 640 Q8_0 embedding, ~{head_mb:.0f} MB of Q8_0 in this file) takes "
        f"{head16:.2f} ms vs {head8:.2f} ms, the layer matrices {lay16:.2f} ms vs {lay8:.2f} ms.  The head "
        f"streams at the memory limit: its row kernel on huge pages reads 33-37 GB/s with 2 threads in a "
        f"microbenchmark, as fast as a plain read of the same bytes.  Tried and dropped: interleaving the head "
        f"too (28-34 GB/s, and 178 MB more memory), reading it 8 rows at a time with a transpose in registers "
        f"(11 GB/s: 16 concurrent streams), claiming decode rows in 16-256 KiB chunks instead of fixed halves "
        f"(the barrier waits went, but each thread streamed slower: no net change), prefetching the layer's "
        f"keys and values (0.03 ms), and on one Q5_0 row (before the interleaving) 512-bit vectors (12.4 GB/s "
        f"vs 15.6: this CPU splits them in two), scales of 8 blocks by gather (11.8-12.6), unsigned codes "
        f"(13.9).",
        f"- **Prefill** ({pre:.2f}x at 512 tokens): chunks of 4 tokens or more multiply Q4_0/Q5_0/Q8_0 weights "
        f"in the int16 GEMM of the avx512 set (csrc/cpu/ga_gemm_q16.h: the same 16-bit codes as decode, one token "
        f"per int32 lane, weight code pairs broadcast into vpdpwssd; ~75 GMAC/s per thread against ~46 for "
        f"sgemm on dequantized tiles) and K-format weights in f32 (OpenBLAS sgemm on 1 MiB tiles dequantized "
        f"once per chunk).  The layer matmuls run at ~{gmacs:.0f} GMAC/s on {threads} threads "
        f"({pf_mm:.2f} of {pf_tot:.2f} ms per token; attention {pf_att:.2f} ms).  llama.cpp multiplies int8 "
        f"activations with AVX-512 VNNI (see its CPU features above); an int8 x 16-bit kernel for the K "
        f"formats is what is left on our side.",
        *q4_0_bullet(results),
        f"- **Bandwidth fraction**: the limit divides a measured streaming read bandwidth by the weight bytes "
        f"of one token.  On this shared VM the probe itself moves between ~31 and ~55 GB/s within one run "
        f"(other tenants), which moves every fraction with it: the run-wide figure uses the median of the "
        f"probes taken before, between and after the files ({bw:.1f} GB/s here); the target uses a probe taken "
        f"just before each engine run, so each decode figure is set against the bandwidth of its own moment.",
        ""])


METRICS = [
    ("load_to_first_token_s", "load to first token (s)"),
    ("load_s", "import + load (s)"),
    ("prefill128_tps", "prefill 128 (tok/s)"),
    ("prefill512_tps", "prefill 512 (tok/s)"),
    ("decode_tps", "decode 128 (tok/s)"),
    ("peak_rss_mib", "peak RSS (MiB)"),
]


def _verdict(value, target, higher_is_better=True):
    if value != value:  # nan
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return f"met ({value:.2f} vs {target:.2f})"
    short = (target / value - 1) * 100 if higher_is_better else (value / target - 1) * 100
    return f"**not met** ({value:.2f} vs {target:.2f}: {'needs' if higher_is_better else 'over by'} " \
           f"{short:.0f}% {'more' if higher_is_better else ''})".replace(" )", ")")


def run_fractions(runs, bytes_per_token):
    """Each run's decode tok/s over the limit set by the probe taken just before it."""
    return [r["decode_tps"] * bytes_per_token / (r["bw_gbs"] * 1e9) for r in runs if r.get("bw_gbs")]


def paired_fraction(runs, bytes_per_token):
    fr = run_fractions(runs, bytes_per_token)
    return statistics.median(fr) if fr else float("nan")


def write_outputs(out, args, files, results, curve, profile, wbytes, bw, bw1, llama_version, machine, elapsed):
    import gemma_accel
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    # CSV: one row per file, engine, metric with the median and every run
    with open(out / "bench.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "engine", "metric", "median"] + [f"run{i + 1}" for i in range(args.runs)])
        for label, per in results.items():
            for e, runs in per.items():
                for key, _ in METRICS:
                    w.writerow([label, e, key, f"{med(runs, key):.4f}"] + [f"{r[key]:.4f}" for r in runs])
                lim = bw * 1e9 / wbytes[label][0]
                w.writerow([label, e, "bandwidth_fraction_median_probe", f"{med(runs, 'decode_tps') / lim:.4f}"] +
                           [f"{r['decode_tps'] / lim:.4f}" for r in runs])
                w.writerow([label, e, "probe_before_run_gbs", f"{med(runs, 'bw_gbs'):.4f}"] +
                           [f"{r['bw_gbs']:.4f}" for r in runs])
                w.writerow([label, e, "bandwidth_fraction_paired", f"{paired_fraction(runs, wbytes[label][0]):.4f}"] +
                           [f"{x:.4f}" for x in run_fractions(runs, wbytes[label][0])])
        for e, runs in curve.items():
            for c in CONTEXTS:
                key = f"decode_ctx{c}_tps"
                w.writerow(["Q4_K_M (default)", e, key, f"{med(runs, key):.4f}"] + [f"{r[key]:.4f}" for r in runs])
        w.writerow(["machine", "", "read_bandwidth_gbs", f"{bw:.3f}"])
        w.writerow(["machine", "", "read_bandwidth_1thread_gbs", f"{bw1:.3f}"])

    # PNG
    if curve:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for e, runs in curve.items():
            ax.plot(CONTEXTS, [med(runs, f"decode_ctx{c}_tps") for c in CONTEXTS], marker="o", label=e)
        lim = bw * 1e9 / wbytes["Q4_K_M (default)"][0]
        ax.axhline(lim, color="gray", ls="--", lw=1, label=f"bandwidth limit ({lim:.0f} tok/s)")
        ax.set_xlabel("context length (tokens)")
        ax.set_ylabel("decode tokens/s")
        ax.set_title(f"Gemma 3 270M Q4_K_M, {args.threads} threads (median of {args.curve_runs})")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "decode_vs_context.png", dpi=110)
        plt.close(fig)

    # Markdown
    L = []
    L.append("# gemma_accel vs llama.cpp\n")
    L.append(f"Generated by `make bench` (benchmarks/bench.py) on {stamp} in {elapsed / 60:.1f} min. "
             f"Median of {args.runs} runs per figure; every run is a fresh child process; engines alternate; "
             f"each file's page cache is dropped and re-read sequentially before its runs (refresh_page_cache).\n")
    L.append("## Machine\n")
    L.append(f"- CPU: {machine['cpu']} ({machine['cores']} logical CPUs; {machine.get('Thread(s) per core', '?')} "
             f"thread(s) per core; hypervisor: {machine.get('Hypervisor vendor', 'none')})")
    L.append(f"- Caches: L1d {machine.get('L1d cache', '?')}, L2 {machine.get('L2 cache', '?')}, "
             f"L3 {machine.get('L3 cache', '?')}; memory {machine.get('mem_gib', '?')} GiB")
    L.append(f"- SIMD flags: {machine['flags']} (gemma_accel kernel set: {gemma_accel.info()['kernel_set']}, "
             f"OpenBLAS linked: {gemma_accel.info()['openblas']})")
    L.append(f"- Threads used by both engines: {args.threads}; Linux {machine['kernel']}, Python {machine['python']}")
    L.append(f"- Versions: gemma_accel {gemma_accel.__version__}, llama-cpp-python {llama_version} "
             f"(built from its PyPI source by `make test`)")
    L.append(f"- Streaming read bandwidth: **{bw:.1f} GB/s** with {args.threads} threads "
             f"({bw1:.1f} GB/s with 1), 1 GiB buffer, best of 5 passes per probe; probes before, between and "
             f"after the files ({' / '.join(f'{x:.1f}' for x in machine.get('bw_samples', [bw]))} GB/s), "
             f"their median is used for the limits below; a probe (best of 3 passes) also runs just before every "
             f"engine run ({min(r['bw_gbs'] for p in results.values() for rs in p.values() for r in rs):.1f}-"
             f"{max(r['bw_gbs'] for p in results.values() for rs in p.values() for r in rs):.1f} GB/s), and the "
             f"target uses each run's decode against the limit of its own probe (median over runs)")
    L.append(f"- Load average (1/5/15 min) before the run {' '.join(machine['loadavg_before'])}, after "
             f"{' '.join(machine['loadavg'])}: other work on the machine slows both engines alike only roughly, "
             "so compare figures from one run\n")
    L.append("## Files\n")
    for label, path in files.items():
        b, types = wbytes[label]
        L.append(f"- {label}: `{path.name}` ({path.stat().st_size / 1e6:.0f} MB); weights read per decoded token "
                 f"{b / 1e6:.0f} MB ({', '.join(f'{k} {v / 1e6:.0f} MB' for k, v in sorted(types.items()))}) "
                 f"-> decode limit {bw * 1e9 / b:.0f} tok/s")
    L.append("\nQ4_0 and Q8_0 were made with llama.cpp's own quantizer (`llama_model_quantize`) **from the Q4_K_M "
             "file** (requantized, the only Gemma 3 270M weights on this machine), so their quality is bounded "
             "by Q4_K_M's; they exercise the Q4_0 / Q8_0 kernels and memory traffic.\n")
    L.append("## Results (median)\n")
    for label in results:
        per = results[label]
        lim = bw * 1e9 / wbytes[label][0]
        L.append(f"### {label}\n")
        hdr = "| metric | " + " | ".join(per) + " | gemma_accel / llama.cpp |"
        L.append(hdr)
        L.append("|" + "---|" * (len(per) + 2))
        for key, name in METRICS:
            vals = [med(per[e], key) for e in per]
            ratio = med(per["gemma_accel"], key) / med(per["llama.cpp"], key)
            fmt = "{:.3f}" if key.endswith("_s") else "{:.1f}"
            L.append(f"| {name} | " + " | ".join(fmt.format(v) for v in vals) + f" | {ratio:.2f}x |")
        fr = [med(per[e], "decode_tps") / lim for e in per]
        L.append(f"| decode / bandwidth limit ({lim:.0f} tok/s at the median probe) | " +
                 " | ".join(f"{x:.0%}" for x in fr) + " | |")
        frp = [paired_fraction(per[e], wbytes[label][0]) for e in per]
        L.append("| decode / bandwidth limit, each run against its own probe (median) | " +
                 " | ".join(f"{x:.0%}" for x in frp) + " | |")
        L.append("")
        g, l8, lc = per["gemma_accel"], per.get("gemma_accel (act_bits=8)", []), per["llama.cpp"]
        L.append("Targets (issue 5), headline = gemma_accel default act_bits=16 (act_bits=8 in brackets):\n")
        for what, key, tgt, hib in (("decode >= 1.25x llama.cpp", "decode_tps", TARGETS["decode"], True),
                                    ("prefill 512 >= 1.0x", "prefill512_tps", TARGETS["prefill"], True),
                                    ("prefill 128 >= 1.0x", "prefill128_tps", TARGETS["prefill"], True),
                                    ("load to first token <= 0.5x", "load_to_first_token_s", TARGETS["load"], False)):
            r16 = med(g, key) / med(lc, key)
            r8 = med(l8, key) / med(lc, key)
            L.append(f"- {what}: {_verdict(r16, tgt, hib)} [act_bits=8: {_verdict(r8, tgt, hib)}]")
        B = wbytes[label][0]
        L.append(f"- decode >= 75% of the bandwidth limit (each run against its own probe): "
                 f"{_verdict(paired_fraction(g, B), 0.75)} [act_bits=8: {_verdict(paired_fraction(l8, B), 0.75)}; "
                 f"llama.cpp reaches {paired_fraction(lc, B):.0%}]; against the median probe of the whole run: "
                 f"{med(g, 'decode_tps') / lim:.0%}\n")
    if curve:
        L.append("## Decode tokens/s against context length (Q4_K_M)\n")
        L.append("| context | " + " | ".join(curve) + " |")
        L.append("|" + "---|" * (len(curve) + 1))
        for c in CONTEXTS:
            L.append(f"| {c} | " + " | ".join(f"{med(curve[e], f'decode_ctx{c}_tps'):.1f}" for e in curve) + " |")
        L.append("\n![decode vs context](decode_vs_context.png)\n")
    if profile:
        L.append("## Where gemma_accel's time goes (Q4_K_M, GA_PROFILE=1, one run)\n")
        L.append("Milliseconds per token by op kind (matmul ops include activation quantization; "
                 "the output head includes its norm and softcap):\n")
        cols = [("act16", "profile_prefill512", "prefill 512, act16"), ("act16", "profile_decode", "decode, act16"),
                ("act8", "profile_prefill512", "prefill 512, act8"), ("act8", "profile_decode", "decode, act8")]
        ops = list(profile["act16"]["profile_decode"]["ops"])
        L.append("| op | " + " | ".join(c[2] for c in cols) + " |")
        L.append("|" + "---|" * (len(cols) + 1))
        for op in ops + ["total"]:
            cells = []
            for mode, key, _ in cols:
                p = profile[mode][key]
                v = sum(p["ops"].values()) if op == "total" else p["ops"][op]
                cells.append(f"{1e3 * v / max(1, p['tokens']):.3f}")
            L.append(f"| {op} | " + " | ".join(cells) + " |")
        L.append("")
        for mode, key, name in cols:
            p = profile[mode][key]
            tot = sum(p["ops"].values())
            top = sorted(p["ops"].items(), key=lambda kv: -kv[1])[:4]
            L.append(f"- {name}: " + ", ".join(f"{op} {100 * v / tot:.0f}%" for op, v in top))
        L.append("")
        L.append(analysis(profile, results, wbytes, bw, args.threads))
    (out / "bench.md").write_text("\n".join(L) + "\n")
    log(f"wrote {out / 'bench.md'}, bench.csv, decode_vs_context.png")


if __name__ == "__main__":
    sys.exit(main())
