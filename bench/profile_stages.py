"""Where a worker's time goes, by stage: summarise a py-spy raw (collapsed) profile.

    python -m bench.profile_stages var/bench/profile-rate500-pyspy.txt

`bench.load --profile` records the first worker and its stage processes with
`py-spy record --subprocesses --format raw` (one line per distinct stack,
`frame;frame;... count`, outermost first; a frame reads `function (path:line)`, and
with --subprocesses the first frames name the process: `process PID:"cmdline"`), only
while a thread is on the CPU: 100 samples are about a second of CPU. Each sample is put
in its process (the stage, from `--stage NAME`), its thread, one part of the work (gate,
matcher, matcher checkpoint, settlement, candles, ...) and one layer (the innermost
library it is in: PostgreSQL client, Kafka client, Faust, matching engine, ...).

Native code has no frame of its own: its samples show under the innermost Python frame
that called it. The stages' event loops are uvloop's, run in native code, so a sample
whose innermost frame is where a loop was started (LOOP_ENTRIES) is the loop's own work
(I/O, timers, waking another thread), and a callback's frames start right below that
frame. Likewise for the consumer's poll and the output's flush (librdkafka, NATIVE).
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")

STAGES = (  # (part, path fragment, function or None); the innermost frame that matches
    ("gate", "streams/gate.py", "Gate.process"),
    ("checkpoint (every Faust stage)", "streams/runtime/checkpoint.py", "Checkpoint.commit"),
    ("matcher rebalance", "streams/matcher.py", "_restore"),
    ("matcher", "streams/matcher_records.py", "RecordMatcher.apply"),
    ("settlement", "streams/settlement.py", None),
    ("candles", "streams/candles.py", None),
    ("stage loop: poll, commit (confluent-kafka)", "streams/runtime/direct.py",
     "DirectStage._process"),
)
# innermost Python frames that stand for work inside native code
NATIVE = {
    "DirectStage.run": "native: the consumer's poll (librdkafka)",
    "Output.flush_now": "native: output flush (librdkafka, delivery reports)",
    "_worker": "native: thread pool",
    "Supervisor._forward": "native: supervisor forwarding children's output",
    "Supervisor.wait": "native: supervisor watching children",
}
# frames that start an event loop: below one, a sample is in a callback of that loop
LOOP_ENTRIES = {"Runner.run", "Worker.execute_from_commandline",
                "ServiceThread._start_thread"}
PROCESS = re.compile(r'^process \d+:"(?P<cmd>.*)"$')

LAYERS = (  # innermost match wins
    ("PostgreSQL client (SQLAlchemy + psycopg)", ("sqlalchemy/", "psycopg/", "psycopg_binary",
                                                  "psycopg_pool")),
    ("Kafka client (aiokafka)", ("aiokafka/", "kafka/")),
    ("Faust / mode streams", ("faust/", "mode/")),
    ("matching engine", ("/engine/",)),
    ("codec (msgspec)", ("schemas/", "msgspec")),
    ("ledger SQL building", ("/ledger/",)),
    ("asyncio", ("asyncio/",)),
)


def _parse(line: str) -> tuple[list[tuple[str, str]], int] | None:
    line = line.rstrip("\n")
    if not line or " " not in line:
        return None
    stack, _, count = line.rpartition(" ")
    try:
        n = int(count)
    except ValueError:
        return None
    frames = []
    for raw in stack.split(";"):
        m = FRAME.match(raw.strip())
        frames.append((m.group("func"), m.group("path")) if m else (raw.strip(), ""))
    return frames, n


def _process(frames: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """The stage process a sample is from, and its frames without the process frames."""
    name = "supervisor"
    while frames and PROCESS.match(frames[0][0]):
        cmd = PROCESS.match(frames[0][0]).group("cmd").split()
        if "--stage" in cmd and cmd.index("--stage") + 1 < len(cmd):
            name = cmd[cmd.index("--stage") + 1]
        frames = frames[1:]
    return name, frames


def classify(frames: list[tuple[str, str]]) -> tuple[str, str, str]:
    """(process and thread, part of the work, layer) of one sample."""
    process, frames = _process(frames)
    thread = (f"{process}: other thread" if frames and frames[0][0] == "Thread._bootstrap"
              else f"{process}: main thread")
    if not frames or not frames[0][0]:
        return thread, "no Python frame (native code / descheduled)", "-"
    native = next((NATIVE[f] for f, _ in reversed(frames[-2:]) if f in NATIVE), None)
    if native is not None:
        return thread, native, "-"
    # what the event loop is running now: the frames below its entry (uvloop) or below
    # its _run_once (asyncio's loop, in Python)
    entries = [i for i, (func, _) in enumerate(frames)
               if func in LOOP_ENTRIES or func.endswith("._run_once")]
    callback = frames[entries[-1] + 1:] if entries else frames
    if not callback:
        return thread, "native: the event loop (uvloop: I/O, timers, wake-ups)", "-"
    stage = None
    for func, path in reversed(callback):  # the innermost part of our code wins
        for name, fragment, wanted in STAGES:
            if fragment in path and (wanted is None or func == wanted):
                stage = name
                break
        if stage:
            break
    if stage is None:
        paths = " ".join(p for _, p in callback)
        if "aiokafka" in paths:
            stage = "Kafka client tasks (fetch, produce, commit)"
        elif "faust/" in paths or "mode/" in paths:
            stage = "Faust internals (conductor, commit, timers)"
        elif "sqlalchemy" in paths or "psycopg" in paths:
            stage = "PostgreSQL client callbacks"
        else:
            stage = "event loop / other"
    layer = "own code (streams/, ledger/ Python)"
    for func, path in reversed(callback):
        hit = next((name for name, frags in LAYERS if any(f in path for f in frags)), None)
        if hit:
            layer = hit
            break
    return thread, stage, layer


def summarise(path: str) -> tuple[int, Counter, dict[str, Counter]]:
    stages: Counter = Counter()
    layers: dict[str, Counter] = defaultdict(Counter)
    total = 0
    with open(path) as f:
        for line in f:
            parsed = _parse(line)
            if parsed is None:
                continue
            frames, n = parsed
            thread, stage, layer = classify(frames)
            stages[(thread, stage)] += n
            layers[(thread, stage)][layer] += n
            total += n
    return total, stages, layers


def main(argv: list[str]) -> None:
    path = argv[0] if argv else "var/bench/profile-rate500-pyspy.txt"
    total, stages, layers = summarise(path)
    if not total:
        raise SystemExit(f"no samples in {path}")
    print(f"{path}: {total} samples (py-spy, 100 Hz per thread while on the CPU)")
    for thread in sorted({k[0] for k in stages}):
        rows = [(k, n) for k, n in stages.most_common() if k[0] == thread]
        t_total = sum(n for _, n in rows)
        if not t_total:
            continue
        print(f"\n{thread}: {t_total} samples, ~{t_total / 100:.1f} s of CPU")
        print("| part | share of the thread's samples | top layers (share of the part) |")
        print("|---|---|---|")
        for key, n in rows:
            top = ", ".join(f"{layer} {c / n:.0%}"
                            for layer, c in layers[key].most_common(3) if layer != "-")
            print(f"| {key[1]} | {n / t_total:.1%} | {top} |")


if __name__ == "__main__":
    main(sys.argv[1:])
