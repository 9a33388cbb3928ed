"""Load on `paddlegan serve`: many users, slow clients, stalled downloads (127.0.0.1 only).

Starts `paddlegan serve` with a tiny random x4 SR model (exported here; speed
of the model is not the point) and runs three phases, each bounded in count
and time, while a sampler asks ``GET /api/info`` every 50 ms:

1. ``--users`` (50) users at once, each uploading a photo and restoring it;
   a user refused as busy (503: the queue holds ``--max-queue`` jobs) waits
   0.2 s and tries again, as the page's user would. Every job answered 202 must
   end ``done`` (no accepted job lost).
2. ``--slow`` (100) slow clients at once, each sending one header byte every
   ``--trickle`` (5) seconds, for ``--slow-seconds`` (12) seconds: the
   server cuts each at its header deadline (10 s) while ``/api/info`` stays
   answered. Goal: its p99 latency under 200 ms during this phase.
3. One ~100 MB result (a 1600x1600 noise photo restored x4), then
   ``--stalled`` (20) downloads of it that read the head and then nothing
   for ``--stall-seconds`` (10) seconds; afterwards each is read to the end.
   Goal: server RSS growth under 100 MB while they stall (results are
   streamed from disk).

Printed: requests served (by status), ``/api/info`` p50/p99 per phase, the
server's RSS (before, during the stall, peak), the CPU. The machine may be
shared with other work: the figures are of one run, on that load.

Run from the repository root::

    python bench/serve_load.py
    python bench/serve_load.py --users 20 --slow 50 --stalled 5 --big-side 1024   # quicker
"""
import argparse
import collections
import json
import os
import platform
import queue
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = '127.0.0.1'    # every client of this script talks to this address only


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--users', type=int, default=50, help='concurrent users (default 50)')
    p.add_argument('--slow', type=int, default=100, help='slow clients at once (default 100)')
    p.add_argument('--trickle', type=float, default=5.0,
                   help='seconds between the header bytes of a slow client (default 5)')
    p.add_argument('--slow-seconds', type=float, default=12.0,
                   help='how long the slow clients trickle (default 12)')
    p.add_argument('--stalled', type=int, default=20, help='stalled downloads (default 20)')
    p.add_argument('--stall-seconds', type=float, default=10.0,
                   help='how long the downloads stall (default 10)')
    p.add_argument('--big-side', type=int, default=1600,
                   help='side of the noise photo restored x4 for the large result '
                        '(default 1600: a ~100 MB PNG)')
    p.add_argument('--max-queue', type=int, default=8, help="server's --max-queue (default 8)")
    p.add_argument('--work', default=None, help='folder for the model (default: a temp folder)')
    return p.parse_args(argv)


def machine() -> str:
    from ppgan_ext.deploy.cpu import cpu_flags, cpu_name

    cpu, flags = cpu_name(), cpu_flags()
    extras = [f for f in ('amx_bf16', 'avx512_bf16') if f in flags]
    return (f"{cpu}, {os.cpu_count()} logical cores ({', '.join(extras) or 'no AMX/AVX512-BF16'}"
            f"), Python {platform.python_version()}; the machine may be shared with other work")


def export_tiny_x4(work: str) -> str:
    """A tiny random TransposeSRResNet x4 (8 features, 1 block), exported; its folder.

    Its random output of a noise photo compresses poorly, so that a 1600x1600 restore
    gives a result PNG of about 100 MB (1600x1600 -> 6400x6400).
    """
    import paddle
    import yaml

    import ppgan_ext  # noqa: F401
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import build_model_for_export, export_model

    model_dir = os.path.join(work, 'tiny_x4')
    if os.path.isfile(os.path.join(model_dir, 'ppgan_ext.json')):
        return model_dir
    cfg_path = os.path.join(work, 'tiny_x4.yaml')
    with open(cfg_path, 'w') as f:
        yaml.safe_dump({'model': {'name': 'BaseSRModel', 'generator': {
            'name': 'TransposeSRResNet', 'num_feat': 8, 'num_blocks': 1, 'scale': 4}},
            'min_max': '(0., 1.)', 'output_dir': work,
            'export_model': [{'name': 'generator', 'inputs_num': 1}]}, f)
    cfg = load_config(cfg_path)
    paddle.seed(0)
    model, _ = build_model_for_export(cfg, None)
    export_model(cfg, None, model_dir, parity_sizes=[(16, 16)], model=model)
    return model_dir


class Client:
    """HTTP calls to the server, counted by status."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token
        self.statuses = collections.Counter()
        self._lock = threading.Lock()

    def call(self, path, data=None, method=None, timeout=60):
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={'X-Ppgan-Token': self.token})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        except OSError as e:
            status, body = type(e).__name__, b''
        with self._lock:
            self.statuses[status] += 1
        return status, body


class InfoSampler:
    """``GET /api/info`` every 50 ms in a thread; latencies (ms) grouped by phase."""

    def __init__(self, client: Client):
        self.client = client
        self.phase = 'idle'
        self.latency = collections.defaultdict(list)
        self.failed = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            start = time.perf_counter()
            status, _ = self.client.call('api/info', timeout=10)
            ms = (time.perf_counter() - start) * 1000
            if status == 200:
                self.latency[self.phase].append(ms)
            else:
                self.failed[self.phase] += 1
            self._stop.wait(max(0.0, 0.05 - ms / 1000))

    def stop(self):
        self._stop.set()
        self._thread.join(15)

    def report(self, phase: str) -> str:
        values = sorted(self.latency[phase])
        if not values:
            return f'{phase}: no answers ({self.failed[phase]} failed)'
        p99 = values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]
        return (f'{phase}: {len(values)} answered, {self.failed[phase]} failed, '
                f'p50 {statistics.median(values):.1f} ms, p99 {p99:.1f} ms, '
                f'max {values[-1]:.1f} ms')


def rss_mb(pid: int, key: str = 'VmRSS') -> float:
    with open(f'/proc/{pid}/status') as f:
        return int(re.search(rf'{key}:\s+(\d+)', f.read()).group(1)) / 1024


def png_bytes(h: int, w: int, seed: int) -> bytes:
    import cv2

    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return cv2.imencode('.png', img)[1].tobytes()


def wait_job(client: Client, job_id: str, timeout: float) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        status, body = client.call(f'api/jobs/{job_id}')
        if status == 200:
            job = json.loads(body)
            if job['state'] in ('done', 'error'):
                return job
        time.sleep(0.2)
    return {'state': 'timeout', 'message': f'not finished in {timeout:.0f} s'}


def phase_users(client: Client, users: int, deadline: float) -> dict:
    """Each user uploads a photo and restores it, retrying while the server is busy."""
    results = collections.Counter()
    lock = threading.Lock()

    def user(i):
        rng = np.random.default_rng(i)
        photo = png_bytes(int(rng.integers(48, 96)), int(rng.integers(48, 96)), i)
        outcome = 'gave up'
        while time.time() < deadline:
            status, body = client.call(f'api/uploads?name=user{i}.png', photo, 'POST')
            if status == 503:
                time.sleep(0.2)
                continue
            if status != 200:
                outcome = f'upload {status}'
                break
            upload = json.loads(body)['id']
            while time.time() < deadline:
                status, body = client.call('api/jobs', json.dumps(
                    {'mode': 'restore', 'photo': upload}).encode(), 'POST')
                if status != 503:
                    break
                time.sleep(0.2)
            if status != 202:
                outcome = f'submit {status}'
                break
            with lock:
                results['accepted'] += 1
            job = wait_job(client, json.loads(body)['id'], max(1.0, deadline - time.time()))
            outcome = job['state']
            break
        with lock:
            results[outcome] += 1

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, deadline - time.time() + 30))
    return dict(results)


def phase_slow(port: int, count: int, trickle: float, seconds: float) -> collections.Counter:
    """``count`` connections sending one request byte every ``trickle`` s for ``seconds``."""
    outcome = collections.Counter()
    lock = threading.Lock()
    stop_at = time.time() + seconds
    request = f'GET /api/info HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: {"s" * 64}\r\n\r\n'.encode()

    def slow():
        result = 'still open'
        try:
            with socket.create_connection((HOST, port), timeout=10) as s:
                for byte in request:
                    s.sendall(bytes([byte]))
                    s.settimeout(max(0.01, min(trickle, stop_at - time.time())))
                    try:
                        answer = s.recv(4096)
                        result = answer.split(b' ', 2)[1].decode() if answer else 'closed'
                        break
                    except socket.timeout:
                        if time.time() >= stop_at:
                            break
        except OSError as e:
            result = type(e).__name__
        with lock:
            outcome[result] += 1

    threads = [threading.Thread(target=slow) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 20)
    return outcome


def stalled_download(port: int, path: str):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(30)
    s.connect((HOST, port))
    s.sendall(f'GET /{path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n'.encode())
    head = b''
    while b'\r\n\r\n' not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    found = re.search(rb'content-length: (\d+)', head.lower())
    return s, head, int(found.group(1)) if found else -1


def read_rest(s: socket.socket, length: int) -> int:
    got = 0
    try:
        while got < length:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    except OSError:
        pass
    s.close()
    return got


def main(argv=None) -> int:
    args = parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix='serve-load-')
    os.makedirs(work, exist_ok=True)
    print(machine())
    model = export_tiny_x4(work)
    cmd = [sys.executable, '-m', 'ppgan_ext.cli', 'serve', '--sr-model', model, '--host', HOST,
           '--port', '0', '--max-queue', str(args.max_queue), '--tile', '128',
           '--tile-overlap', '8', '--max-pixels', str(args.big_side ** 2)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, text=True)
    lines: 'queue.Queue' = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=180)
        url = re.search(r'(http://\S+/)', line).group(1)
        port = int(url.rsplit(':', 1)[1].strip('/'))
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        found = re.search(r'name="ppgan-token" content="([^"]+)"', page)
        token = found.group(1) if found else ''   # a server without a page token
        client = Client(url, token)
        sampler = InfoSampler(client)
        time.sleep(1.0)
        print(f'server pid {proc.pid}, RSS at start {rss_mb(proc.pid):.0f} MB')

        sampler.phase = 'users'
        start = time.time()
        users = phase_users(client, args.users, time.time() + 300)
        lost = users.get('accepted', 0) - users.get('done', 0)
        print(f'1. {args.users} users upload + restore at once: {users} in '
              f'{time.time() - start:.1f} s; accepted jobs lost: {lost}')

        sampler.phase = 'slow'
        slow = phase_slow(port, args.slow, args.trickle, args.slow_seconds)
        print(f'2. {args.slow} slow clients (1 header byte / {args.trickle:g} s, for '
              f'{args.slow_seconds:g} s): {dict(slow)}')

        sampler.phase = 'large job'
        big = png_bytes(args.big_side, args.big_side, 7)
        status, body = client.call('api/uploads?name=big.png', big, 'POST')
        assert status == 200, body
        status, body = client.call('api/jobs', json.dumps(
            {'mode': 'restore', 'photo': json.loads(body)['id']}).encode(), 'POST')
        assert status == 202, body
        start = time.time()
        job = wait_job(client, json.loads(body)['id'], 600)
        assert job['state'] == 'done', job
        path = f"api/jobs/{job['id']}/result"
        print(f"3. large result {job['width']}x{job['height']} in {time.time() - start:.1f} s")
        time.sleep(1.0)
        sampler.phase = 'stalled downloads'
        before = rss_mb(proc.pid)
        downloads = [stalled_download(port, path) for _ in range(args.stalled)]
        size = downloads[0][2]
        during, end = before, time.time() + args.stall_seconds
        while time.time() < end:
            during = max(during, rss_mb(proc.pid))
            time.sleep(0.2)
        done = [read_rest(s, length) == length for s, _, length in downloads]
        print(f'   {args.stalled} downloads of {size / 2 ** 20:.0f} MB stalled '
              f'{args.stall_seconds:g} s: RSS {before:.0f} -> {during:.0f} MB (growth '
              f'{during - before:+.0f} MB; goal < 100 MB); read to the end afterwards: '
              f'{sum(done)}/{len(done)} complete')
        sampler.phase = 'after'
        time.sleep(1.0)
        sampler.stop()
        print('GET /api/info latency while:')
        for phase in ('users', 'slow', 'large job', 'stalled downloads'):
            print('  ' + sampler.report(phase))
        print(f'requests answered by status: {dict(sorted(client.statuses.items(), key=str))}')
        print(f'server peak RSS (VmHWM): {rss_mb(proc.pid, "VmHWM"):.0f} MB')
        slow_ms = sorted(sampler.latency['slow'])
        slow_p99 = slow_ms[int(0.99 * (len(slow_ms) - 1))] if slow_ms else float('inf')
        print(f"goals: no accepted job lost: {'yes' if lost == 0 else 'NO'}; /api/info p99 "
              f"with slow clients {slow_p99:.0f} ms < 200 ms: "
              f"{'yes' if slow_p99 < 200 else 'NO'}; RSS growth {during - before:.0f} MB < "
              f"100 MB: {'yes' if during - before < 100 else 'NO'}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == '__main__':
    sys.exit(main())
