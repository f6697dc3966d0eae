#!/usr/bin/env python3
"""Time from a host fault's start to the target's first error, per family, through rebound and through the raw
tool run by hand (the floor: fallocate, stress-ng). Prints the numbers and rebound's ratio to the floor.

Needs root, stress-ng, and a built tree (build/rebound, build/rebound-supervisor, build/rebound-demo-service).
Usage: bench/host_bench.py [BUILD_DIR] [--trials N]
"""
import json, os, statistics, subprocess, sys, tempfile, threading, time

BUILD = next((a for a in sys.argv[1:] if not a.startswith("--")), "build")
TRIALS = int(sys.argv[sys.argv.index("--trials") + 1]) if "--trials" in sys.argv else 5
REBOUND = os.path.abspath(os.path.join(BUILD, "rebound"))
now_ms = lambda: time.monotonic() * 1000


def run_rebound(toml_text, workdir):
    path = os.path.join(workdir, "x.toml")
    with open(path, "w") as f:
        f.write(toml_text)
    subprocess.run([REBOUND, "run", path, "--report-dir", workdir + "/r", "--state-dir", workdir + "/state",
                    "--no-history"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    j = json.load(open(workdir + "/r/x/journal.json"))
    return j["monotonic_epoch_ns"] / 1e6 + j["steps"][0]["started_ms"]


def experiment(step, targets=""):
    return ('name = "x"\n' + targets + '[[probes]]\nname = "p"\ntype = "command"\nargv = ["/bin/true"]\n'
            'interval = "100ms"\n[steady_state]\nwindow = "200ms"\n[[method]]\nname = "f"\n' + step)


class FirstEnospc:
    """A writer that writes 1 MiB files (and removes each) and notes its first ENOSPC."""
    def __init__(self, folder):
        self.path, self.at, self.stop, self.paused = folder + "/writer", None, False, False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        block = b"x" * (1 << 20)
        while not self.stop and self.at is None:
            if self.paused:
                time.sleep(0.0005)
                continue
            try:
                with open(self.path, "wb") as f:
                    f.write(block)
                    f.flush()
            except OSError as e:
                if e.errno == 28:
                    self.at = now_ms()
            try:
                os.unlink(self.path)
            except OSError:
                pass
            time.sleep(0.0005)


def tmpfs(mib):
    folder = tempfile.mkdtemp(prefix="rebound-bench-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "rebound-bench", folder], check=True)
    return folder


def disk_trial(through_rebound):
    folder = tmpfs(128)
    try:
        writer = FirstEnospc(folder)
        time.sleep(0.05)
        if through_rebound:
            work = tempfile.mkdtemp()
            start = run_rebound(experiment(f'type = "disk.fill"\npath = "{folder}"\nfree = "256KiB"\nduration = "1s"\n'), work)
        else:
            writer.paused = True  # so that its file is not counted
            time.sleep(0.05)
            st = os.statvfs(folder)
            start = now_ms()
            subprocess.run(["fallocate", "-l", str(st.f_bavail * st.f_frsize - 262144), folder + "/fill"], check=True)
            writer.paused = False
            time.sleep(0.3)
        writer.stop = True
        return None if writer.at is None else writer.at - start
    finally:
        subprocess.run(["umount", "-l", folder])


def wait_dead(pid, deadline_ms):
    while now_ms() < deadline_ms:
        try:
            if open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z":
                return now_ms()
        except OSError:
            return now_ms()
        time.sleep(0.0005)
    return None


def memory_trial(through_rebound):
    """The demo service (24 MiB) in a 64 MiB cgroup: time until the OOM killer ends it."""
    sup = subprocess.Popen([os.path.join(BUILD, "rebound-supervisor"), "--restart-delay-ms", "5000", "--memory-max",
                            "67108864", "--", os.path.join(BUILD, "rebound-demo-service"), "--port", "18299",
                            "--working-set-mib", "24"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        service = int(subprocess.check_output(["pgrep", "-P", str(sup.pid)]).split()[0])
        cgroup = [l for l in open(f"/proc/{service}/cgroup").read().splitlines() if ":memory:" in l or l.startswith("0::")][0]
        result = {}
        watcher = threading.Thread(target=lambda: result.update(at=wait_dead(service, now_ms() + 10000)))
        watcher.start()
        if through_rebound:
            work = tempfile.mkdtemp()
            start = run_rebound(experiment('type = "memory.stress"\ntarget = "t"\nsize = "90%"\nworkers = 4\nduration = "1s"\n',
                                           f'[[targets]]\nname = "t"\npid = {service}\n'), work)
        else:
            folder = "/sys/fs/cgroup/memory" + cgroup.split(":", 2)[2]
            if not os.path.exists(folder):
                folder = "/sys/fs/cgroup" + cgroup.split(":", 2)[2]
            start = now_ms()
            raw = subprocess.Popen(["sh", "-c", f'echo $$ > {folder}/cgroup.procs && exec stress-ng --vm 4 --vm-bytes 60397977 '
                                    '--vm-hang 0 --vm-populate --no-oom-adjust --timeout 2s --quiet'])
            raw.wait()
        watcher.join()
        return None if result.get("at") is None else result["at"] - start
    finally:
        sup.terminate()
        sup.wait()


def cpu_share(pid, window_s=0.02):
    a = int(open(f"/proc/{pid}/schedstat").read().split()[0]); t = now_ms()
    time.sleep(window_s)
    return (int(open(f"/proc/{pid}/schedstat").read().split()[0]) - a) / ((now_ms() - t) * 1e6)


def cpu_trial(through_rebound):
    """A busy loop pinned to CPU 0: time until its share of the CPU over 20 ms falls below 70% of what it had."""
    busy = subprocess.Popen(["taskset", "-c", "0", "sh", "-c", "while :; do :; done"])
    try:
        time.sleep(0.3)
        before = statistics.median(cpu_share(busy.pid) for _ in range(10))
        drops, done = [], []
        def watch():  # every drop, so that the first one after the step's start can be picked
            while not done:
                if cpu_share(busy.pid) < 0.7 * before:
                    drops.append(now_ms())
        watcher = threading.Thread(target=watch)
        watcher.start()
        if through_rebound:
            work = tempfile.mkdtemp()
            start = run_rebound(experiment('type = "cpu.stress"\ntarget = "t"\nworkers = 2\nduration = "1s"\n',
                                           f'[[targets]]\nname = "t"\npid = {busy.pid}\n'), work)
        else:
            start = now_ms()
            subprocess.run(["stress-ng", "--cpu", "2", "--taskset", "0", "--timeout", "1s", "--quiet"])
        done.append(True)
        watcher.join()
        after = [d for d in drops if d >= start]
        return after[0] - start if after else None
    finally:
        busy.kill()
        busy.wait()


def main():
    if os.geteuid() != 0:
        sys.exit("host_bench.py needs root (mounts, cgroups)")
    print(f"time from the fault's start to the target's first error, median of {TRIALS} trials (ms)")
    print(f"{'family':<16}{'rebound':>10}{'raw tool':>10}{'ratio':>8}  first error")
    for family, trial, what in [("disk.fill", disk_trial, "a 1 MiB write gets ENOSPC"),
                                ("memory.stress", memory_trial, "the 24 MiB service is OOM-killed in 64 MiB"),
                                ("cpu.stress", cpu_trial, "a busy loop's CPU share < 70% of before")]:
        ours = [x for x in (trial(True) for _ in range(TRIALS)) if x is not None]
        raw = [x for x in (trial(False) for _ in range(TRIALS)) if x is not None]
        if not ours or not raw:
            print(f"{family:<16}{'-':>10}{'-':>10}{'-':>8}  not reached ({len(ours)} and {len(raw)} of {TRIALS})")
            continue
        a, b = statistics.median(ours), statistics.median(raw)
        print(f"{family:<16}{a:>10.1f}{b:>10.1f}{a / b:>7.1f}x  {what}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
