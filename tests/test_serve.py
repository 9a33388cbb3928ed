"""The web app's parts without a browser: uploads, the bounded queue, the work folder, HTTP."""
import json
import os
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from _export_helpers import error_lines, export_tiny_sr
from _fusion_helpers import write_photo
from ppgan_ext.cli import main
from ppgan_ext.serve import Engine, EngineOptions, JobStore, make_server
from ppgan_ext.serve.jobs import BusyError, claim_work_dir


def _png_bytes(h, w, seed=0):
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ok, data = cv2.imencode('.png', img)
    return data.tobytes()


def test_uploads_are_checked_and_only_the_newest_are_kept(tmp_path):
    store = JobStore(str(tmp_path / 'work'), max_pixels=40 * 40, keep=2)
    with pytest.raises(ValueError, match=r'^notes\.txt: not an image'):
        store.add_upload(b'hello world', 'notes.txt')
    good = _png_bytes(30, 40)
    with pytest.raises(ValueError, match=r'^cut\.png: corrupt or truncated'):
        store.add_upload(good[:len(good) // 2], 'cut.png')
    with pytest.raises(ValueError, match=r'^big\.png: 50x41 = 2050 pixels, more than the limit '
                                         r'of 1600'):
        store.add_upload(_png_bytes(41, 50), '../../etc/big.png')
    assert os.listdir(store.upload_dir) == []          # refused files are not kept
    first = store.add_upload(good, 'a photo.png')
    assert (first.height, first.width, first.name) == (30, 40, 'a_photo')
    second = store.add_upload(_png_bytes(10, 10, 1), 'b.png')
    third = store.add_upload(_png_bytes(10, 10, 2), 'c.png')
    assert sorted(os.listdir(store.upload_dir)) == sorted(
        os.path.basename(u.path) for u in (second, third))
    with pytest.raises(KeyError, match='is gone'):
        store.upload(first.id)
    with pytest.raises(KeyError):
        store.upload('../' + second.id)


def test_queue_is_bounded_and_the_worker_survives_failures(tmp_path):
    store = JobStore(str(tmp_path / 'work'), max_pixels=10 ** 6, max_queue=2, keep=3)
    gate = threading.Event()

    def slow(job, result):
        gate.wait(30)
        with open(result, 'wb') as f:
            f.write(b'x')

    def broken(job, result):
        raise RuntimeError('model exploded\nsecond line')

    a = store.submit('restore', 'a', slow)
    b = store.submit('restore', 'b', broken)
    with pytest.raises(BusyError, match=r'busy: 2 job\(s\) are waiting or running \(limit 2\)'):
        store.submit('restore', 'c', slow)
    gate.set()
    deadline = time.time() + 30
    while store.job(b.id).state != 'error' and time.time() < deadline:
        time.sleep(0.05)
    assert store.job(a.id).state == 'done'
    assert store.job(b.id).message == 'internal error: RuntimeError: model exploded'
    # the worker goes on, and old finished jobs and their results are removed
    done = [store.submit('restore', f'n{i}', slow) for i in range(2)]
    deadline = time.time() + 30
    while any(store.job(j.id).state != 'done' for j in done) and time.time() < deadline:
        time.sleep(0.05)
    assert store.job(a.id) is None and len(store.jobs) == 3
    assert len(os.listdir(store.result_dir)) == 2


def test_work_folder_with_other_files_is_refused(tmp_path):
    folder = tmp_path / 'mine'
    folder.mkdir()
    (folder / 'thesis.tex').write_text('precious')
    with pytest.raises(ValueError, match='holds other files'):
        claim_work_dir(str(folder))
    assert (folder / 'thesis.tex').read_text() == 'precious'
    claim_work_dir(str(tmp_path / 'new'))
    claim_work_dir(str(tmp_path / 'new'))       # an earlier run's folder is fine


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp('serve_http')
    os.makedirs(root / 'sr')
    sr = export_tiny_sr(str(root / 'sr'), seed=1, norm='none', scale=2,
                        parity_sizes=((12, 12),))
    engine = Engine(EngineOptions(sr_model=sr, tile=16, overlap=4, threads=1))
    store = JobStore(str(root / 'work'), max_pixels=10 ** 6)
    srv = make_server(engine, store, '127.0.0.1', 0, max_upload=50_000)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/', root, sr
    srv.shutdown()
    srv.server_close()


def _call(url, data=None, method=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method),
                                    timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_http_api_restores_like_infer_and_answers_errors_in_json(server, tmp_path):
    url, root, sr = server
    status, headers, body = _call(url)
    assert status == 200 and b'<title>ppgan-ext' in body
    assert "default-src 'self'" in headers['Content-Security-Policy']
    assert b'http://' not in body and b'https://' not in body   # nothing from other hosts
    info = json.loads(_call(url + 'api/info')[2])
    assert info['restore'] and info['restore_scale'] == 2 and not info['stylize']
    assert info['max_upload'] == 50_000

    photo = write_photo(str(tmp_path / 'rocket.png'), 'rocket', (40, 52))
    status, _, body = _call(url + 'api/uploads?name=rocket.png', open(photo, 'rb').read())
    upload = json.loads(body)
    assert status == 200 and (upload['width'], upload['height']) == (52, 40)
    status, _, body = _call(url + 'api/jobs', json.dumps(
        {'mode': 'restore', 'photo': upload['id']}).encode())
    job = json.loads(body)
    assert status == 202 and job['state'] in ('queued', 'running', 'done')
    deadline = time.time() + 60
    while job['state'] not in ('done', 'error') and time.time() < deadline:
        time.sleep(0.1)
        job = json.loads(_call(url + f"api/jobs/{job['id']}")[2])
    assert job['state'] == 'done' and (job['width'], job['height']) == (104, 80)
    status, headers, png = _call(url + f"api/jobs/{job['id']}/result")
    assert status == 200 and 'rocket_restored.png' in headers['Content-Disposition']
    got = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert main(['infer', '--model_dir', sr, '--input', photo, '--output',
                 str(tmp_path / 'cli'), '--tile', '16', '--tile-overlap', '4',
                 '--threads', '1']) == 0
    want = cv2.imread(str(tmp_path / 'cli' / 'rocket.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(got, want)

    for path, data, code, text in (
            ('api/uploads?name=x.png', b'0' * 60_000, 413, 'over the limit of 50000 bytes'),
            ('api/jobs', b'{not json', 400, 'bad request'),
            ('api/jobs', json.dumps({'mode': 'paint', 'photo': upload['id']}).encode(), 400,
             "mode must be 'restore' or 'stylize', got 'paint'"),
            ('api/jobs', json.dumps({'mode': 'stylize', 'photo': upload['id']}).encode(), 400,
             'stylize is not available'),
            ('api/jobs', json.dumps({'mode': 'restore', 'photo': 'ffff'}).encode(), 400,
             'is gone'),
            ('api/nothing', b'', 404, 'no such endpoint')):
        status, headers, body = _call(url + path, data, 'POST')
        assert status == code and text in json.loads(body)['error'], (path, body)
    status, _, body = _call(url + 'api/jobs/0123456789abcdef')
    assert status == 404 and 'no such job' in json.loads(body)['error']
    status, _, body = _call(url + 'static/../../setup.py')
    assert status == 404


def test_serve_command_errors_are_one_line(tmp_path, capsys):
    rc = main(['serve', '--port', '0'])
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and lines == ['error: give --sr-model DIR, --lapstyle MODEL, or both']
    rc = main(['serve', '--sr-model', str(tmp_path / 'none'), '--port', '0'])
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and lines == [f"error: --sr-model: not an exported model folder: "
                                 f"{tmp_path / 'none'}"]
    rc = main(['serve', '--max-queue', '0'])
    assert rc == 2 and error_lines(capsys.readouterr().err) == [
        'error: --max-queue must be >= 1, got 0']
