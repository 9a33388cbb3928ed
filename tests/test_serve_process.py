"""`paddlegan serve` as a process, probed as a careful tester would (127.0.0.1 only).

One work folder has one server; jobs accepted are not failed by newer
uploads; slow clients cannot lock others out; results stream from disk and a
slow download is not cut off; SIGTERM and SIGINT stop it cleanly. Every
client here is bounded in count and time and talks to 127.0.0.1 only.
"""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from _export_helpers import env, error_lines, export_tiny_sr
from _fusion_helpers import write_photo

pytestmark = pytest.mark.e2e


class Server:
    """A `paddlegan serve` process, its address and its page token."""

    def __init__(self, args, cwd, extra_env=None):
        cmd = [sys.executable, '-m', 'ppgan_ext.cli', 'serve', '--port', '0'] + args
        self.proc = subprocess.Popen(cmd, cwd=str(cwd), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=env(**(extra_env or {})))
        lines: 'queue.Queue' = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout],
                         daemon=True).start()
        try:
            self.line = lines.get(timeout=120)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f'server did not start: {self.proc.stderr.read()[-2000:]}')
        match = re.match(r'serving on (http://\S+/) \(work folder (.+)\); Ctrl\+C stops',
                         self.line)
        assert match, self.line
        self.url, self.work = match.group(1), match.group(2)
        self.port = int(self.url.rsplit(':', 1)[1].strip('/'))
        page = urllib.request.urlopen(self.url, timeout=30).read().decode()
        found = re.search(r'<meta name="ppgan-token" content="([^"]*)">', page)
        self.token = found.group(1) if found else ''

    def call(self, path, data=None, method=None, timeout=30):
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={'X-Ppgan-Token': self.token})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def upload(self, path, name=None):
        with open(path, 'rb') as f:
            status, _, body = self.call('api/uploads?name=' + (name or os.path.basename(path)),
                                        f.read(), 'POST')
        assert status == 200, body
        return json.loads(body)

    def restore(self, upload_id):
        status, _, body = self.call('api/jobs', json.dumps(
            {'mode': 'restore', 'photo': upload_id}).encode(), 'POST')
        assert status == 202, body
        return json.loads(body)

    def wait_job(self, job_id, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            job = json.loads(self.call(f'api/jobs/{job_id}')[2])
            if job['state'] in ('done', 'error'):
                return job
            time.sleep(0.1)
        raise AssertionError(f'job {job_id} did not finish')

    def rss_kb(self) -> int:
        with open(f'/proc/{self.proc.pid}/status') as f:
            return int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))

    def stop(self, sig=signal.SIGTERM, timeout=30, send=True):
        """Send ``sig`` (unless ``send`` is False: it was sent already) and wait for the exit."""
        if send and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError('the server did not stop')
        return self.proc.returncode, self.proc.stderr.read()


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp('serve_model')
    return export_tiny_sr(str(root), seed=1, norm='none', scale=2, parity_sizes=((12, 12),))


MODEL_ARGS = ['--tile', '64', '--tile-overlap', '8', '--threads', '1']


@pytest.fixture(scope='module')
def server(model, tmp_path_factory):
    root = tmp_path_factory.mktemp('serve_proc')
    srv = Server(['--sr-model', model, '--work-dir', str(root / 'work'), '--max-queue', '9',
                  '--header-timeout', '2'] + MODEL_ARGS, root)
    srv.root = root
    yield srv
    srv.stop()


def _noise_png(path, h, w, seed=0):
    rng = np.random.default_rng(seed)
    assert cv2.imwrite(str(path), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return str(path)


@pytest.fixture(scope='module')
def big_job(server):
    """A restore of a 1024x1024 noise photo (a ~7 MB result; the worker is busy a few seconds)."""
    big = server.upload(_noise_png(server.root / 'big.png', 1024, 1024))
    return server.restore(big['id'])['id']


def test_accepted_jobs_keep_their_photos_while_newer_uploads_arrive(server, big_job):
    """Queue 8 restores (behind a large one), upload 33 photos: none of the 8 fails."""
    photos = [server.upload(write_photo(str(server.root / f'q{i}.png'), 'coffee', (24, 30 + i)))
              for i in range(8)]
    jobs = [server.restore(p['id']) for p in photos]
    for i in range(33):
        server.upload(_noise_png(server.root / f'n{i}.png', 8, 8, seed=i))
    # the uploads came while the jobs waited (else this would prove nothing)
    assert json.loads(server.call(f"api/jobs/{jobs[-1]['id']}")[2])['state'] == 'queued'
    finished = [server.wait_job(j['id']) for j in jobs]
    assert [j['state'] for j in finished] == ['done'] * 8, [j['message'] for j in finished]
    assert [(j['width'], j['height']) for j in finished] == [(2 * (30 + i), 48) for i in range(8)]
    assert server.wait_job(big_job)['state'] == 'done'


def _stalled_download(url, path):
    """Ask for ``path``, read the head and one body byte, then read nothing more."""
    host, port = url.split('//')[1].strip('/').split(':')
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)   # before connecting: a small window
    s.settimeout(30)
    s.connect((host, int(port)))
    s.sendall(f'GET /{path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n'.encode())
    head = b''
    while b'\r\n\r\n' not in head:
        head += s.recv(1)
    length = int(re.search(rb'content-length: (\d+)', head.lower()).group(1))
    return s, head, length


def test_results_stream_from_disk_and_slow_downloads_are_not_cut_off(server, big_job):
    """12 stalled downloads of a ~7 MB result: RSS stays; after an 11 s stall all complete."""
    assert server.wait_job(big_job)['state'] == 'done'
    path = f'api/jobs/{big_job}/result'
    status, headers, png = server.call(path)
    assert status == 200 and len(png) > 5 * 2 ** 20
    before = server.rss_kb()
    downloads = [_stalled_download(server.url, path) for _ in range(12)]
    time.sleep(1.0)
    grown_mb = (server.rss_kb() - before) / 1024
    # read whole into memory per download, the 12 would add 12 x the file (> 60 MB)
    assert grown_mb < 3 * len(png) / 2 ** 20, f'RSS grew by {grown_mb:.0f} MB'
    time.sleep(10.0)         # 11 s with no reading: longer than any timeout of the server
    for s, head, length in downloads:
        assert head.startswith(b'HTTP/1.1 200') and length == len(png)
        body = b''
        s.settimeout(30)
        while len(body) < length:
            chunk = s.recv(1 << 20)
            assert chunk, f'download cut off after {len(body)} of {length} bytes'
            body += chunk
        s.close()
        assert body == png


def _trickle(url, stop_at, answers):
    """A client that sends one header byte every 0.5 s until the server answers or closes."""
    host, port = url.split('//')[1].strip('/').split(':')
    request = f'GET /api/info HTTP/1.1\r\nHost: {host}\r\nX-Padding: {"a" * 100}\r\n\r\n'
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.settimeout(0.5)
        for byte in request.encode():
            if time.time() > stop_at:
                break
            try:
                s.sendall(bytes([byte]))
                answer = s.recv(4096)
                answers.append(answer)     # the server answered (or closed: b'')
                return
            except socket.timeout:
                continue
            except OSError:
                answers.append(b'')
                return
        answers.append(None)               # still open when the test stopped trickling


def test_slow_clients_cannot_lock_others_out(server):
    """70 connections trickling header bytes: /api/info stays answered, they are cut at 2 s."""
    answers, stop_at = [], time.time() + 8
    threads = [threading.Thread(target=_trickle, args=(server.url, stop_at, answers))
               for _ in range(70)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    infos = [server.call('api/info', timeout=5)[0] for _ in range(10)]
    for t in threads:
        t.join(15)
    assert infos == [200] * 10
    assert len(answers) == 70 and None not in answers
    timed_out = [a for a in answers if a.startswith(b'HTTP/1.1 408')]
    assert len(timed_out) == 70, answers[:3]
    assert b'did not arrive within 2 s' in timed_out[0]


def test_a_second_server_on_the_same_folder_exits_and_deletes_nothing(server, model, tmp_path):
    kept = sorted(os.listdir(os.path.join(server.work, 'uploads')))
    assert kept
    fresh = tmp_path / 'fresh'
    # a second server on the same folder, and one on a new folder whose port is taken (its
    # start fails after the folder was named): both at once
    runs = [subprocess.Popen(
        [sys.executable, '-m', 'ppgan_ext.cli', 'serve', '--sr-model', model] + args,
        cwd=str(tmp_path), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for args in (['--port', '0', '--work-dir', server.work],
                                ['--port', str(server.port), '--work-dir', str(fresh)])]
    (out2, err2), (out3, err3) = [p.communicate(timeout=120) for p in runs]
    assert runs[0].returncode == 2, err2
    assert error_lines(err2) == [
        f"error: --work-dir {server.work}: another `paddlegan serve` is running on this "
        f"folder (pid {server.proc.pid}); stop it or give another folder"]
    assert sorted(os.listdir(os.path.join(server.work, 'uploads'))) == kept
    assert server.call('api/info')[0] == 200
    assert runs[1].returncode == 2, err3
    lines = error_lines(err3)
    assert len(lines) == 1 and f'--port {server.port}: cannot listen' in lines[0], err3
    assert not fresh.exists()       # a failed start leaves nothing behind


def test_sigterm_and_sigint_stop_the_server_cleanly_and_remove_the_temporary_folder(
        model, tmp_path):
    # two servers at once, each with a job running: SIGTERM to one, SIGINT to the other.
    # --host 0.0.0.0 (the SIGINT one) prints an address a browser opens; only 127.0.0.1 is
    # contacted here
    servers = {signal.SIGTERM: Server(['--sr-model', model] + MODEL_ARGS, tmp_path),
               signal.SIGINT: Server(['--sr-model', model, '--host', '0.0.0.0'] + MODEL_ARGS,
                                     tmp_path)}
    jobs = {}
    for sig, srv in servers.items():
        assert srv.url.startswith('http://127.0.0.1:'), srv.line
        photo = srv.upload(write_photo(str(tmp_path / 'mine.png'), 'astronaut', (300, 300)))
        jobs[sig] = srv.restore(photo['id'])['id']
        assert os.listdir(os.path.join(srv.work, 'uploads'))
    for sig, srv in servers.items():
        end = time.time() + 30   # stop it while the job runs, when that can be seen
        while json.loads(srv.call(f'api/jobs/{jobs[sig]}')[2])['state'] == 'queued' and \
                time.time() < end:
            time.sleep(0.02)
        srv.proc.send_signal(sig)
    stderr = {}
    for sig, srv in servers.items():
        # one signal each: a second one, after the clean-up has restored the default
        # handlers, would be an interrupt of its own
        rc, stderr[sig] = srv.stop(sig, send=False)
        assert rc == 0, stderr[sig]
        for text in ('FatalError', 'C++ Traceback', 'Traceback', 'Termination signal'):
            assert text not in stderr[sig], (sig, stderr[sig])
        assert not os.path.exists(srv.work)        # the user's photos are not left behind
    assert 'warning: --host 0.0.0.0: the app is reachable from other computers' in \
        stderr[signal.SIGINT]
