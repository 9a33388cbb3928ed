"""The weight downloader against an HTTP server on 127.0.0.1 that the test starts."""
import http.server
import json
import os
import socket
import threading

import numpy as np
import pytest

from ppgan_ext.zoo import download as dl


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}   # path -> (mode, bytes); set per server
    hits = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.hits.append(self.path)
        mode, body = self.routes.get(self.path, ('404', b''))
        if mode == '404':
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if mode == 'cut':   # announce everything, send half, hang up
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    handler = type('Handler', (_Handler,), {'routes': {}, 'hits': []})
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f'http://127.0.0.1:{httpd.server_address[1]}'
    yield base, handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def online(monkeypatch, tmp_path):
    from ppgan.utils import download as ppgan_download

    monkeypatch.delenv(dl.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(ppgan_download, 'PPGAN_HOME', str(tmp_path / 'ppgan'))
    return tmp_path / 'ppgan'


@pytest.fixture(scope='module')
def pdparams(tmp_path_factory):
    import paddle

    path = tmp_path_factory.mktemp('w') / 'w.pdparams'
    rng = np.random.default_rng(0)
    paddle.save({'conv.weight': paddle.to_tensor(rng.random((64, 3, 3, 3), np.float32)),
                 'conv.bias': paddle.to_tensor(rng.random(64, np.float32))}, str(path))
    return path.read_bytes()


def _leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n != dl.SHA256_FILE) \
        if os.path.isdir(folder) else []


def test_normal_fetch_records_sha256_and_reuses_the_file(server, online, pdparams):
    import hashlib

    import paddle

    base, handler = server
    handler.routes['/m/net.pdparams'] = ('ok', pdparams)
    path = dl.fetch(base + '/m/net.pdparams', progress=False)
    assert path == str(online / 'net.pdparams')
    assert open(path, 'rb').read() == pdparams
    assert paddle.load(path)['conv.weight'].shape == [64, 3, 3, 3]
    records = json.loads((online / dl.SHA256_FILE).read_text())
    assert records == {'net.pdparams': hashlib.sha256(pdparams).hexdigest()}
    assert _leftovers(online) == ['net.pdparams']
    # second use: from the cache, checked, no request
    assert dl.fetch(base + '/m/net.pdparams', progress=False) == path
    assert handler.hits == ['/m/net.pdparams']
    # a changed file is one line naming it
    with open(path, 'r+b') as f:
        f.seek(100)
        f.write(b'\x00\x01\x02')
    with pytest.raises(dl.WeightsCorrupt) as info:
        dl.fetch(base + '/m/net.pdparams', progress=False)
    assert str(info.value).startswith(path + ': sha256') and '\n' not in str(info.value)


def test_a_transfer_cut_half_way_leaves_nothing(server, online, pdparams):
    base, handler = server
    handler.routes['/net.pdparams'] = ('cut', pdparams)
    with pytest.raises(dl.WeightsCorrupt) as info:
        dl.fetch(base + '/net.pdparams', progress=False)
    line = str(info.value)
    assert '\n' not in line and 'cut off after' in line and str(len(pdparams)) in line
    assert _leftovers(online) == []
    # the server fixed: the next fetch works
    handler.routes['/net.pdparams'] = ('ok', pdparams)
    assert open(dl.fetch(base + '/net.pdparams', progress=False), 'rb').read() == pdparams


def test_404_is_one_line_naming_url_and_path(server, online):
    base, _ = server
    with pytest.raises(dl.WeightsUnavailable) as info:
        dl.fetch(base + '/missing.pdparams', progress=False)
    line = str(info.value)
    assert '\n' not in line and 'HTTP 404' in line
    assert base + '/missing.pdparams' in line and str(online / 'missing.pdparams') in line
    assert _leftovers(online) == []


@pytest.mark.parametrize('kind', ['html', 'truncated pickle', 'bad npy'])
def test_a_file_that_is_not_what_it_claims_is_refused(server, online, pdparams, kind):
    base, handler = server
    name, body = {
        'html': ('a.pdparams', b'<!DOCTYPE html>\n<html><body>Access denied</body></html>'),
        'truncated pickle': ('b.pdparams', pdparams[:len(pdparams) * 2 // 3]),
        'bad npy': ('c.npy', b'\x93NUMPY\x01\x00v\x00' + b"{'descr': '<f4', 'fortran_order':"
                    b" False, 'shape': (1000,), }".ljust(117) + b'\n' + bytes(400)),
    }[kind]
    handler.routes['/' + name] = ('ok', body)   # complete transfer of a bad file
    with pytest.raises(dl.WeightsCorrupt) as info:
        dl.fetch(f'{base}/{name}', progress=False)
    line = str(info.value)
    assert '\n' not in line and line.startswith(str(online / name) + ':')
    assert _leftovers(online) == []


def test_offline_is_one_line_naming_url_and_path(server, online, monkeypatch):
    base, handler = server
    handler.routes['/x.pdparams'] = ('ok', b'unused')
    monkeypatch.setenv(dl.OFFLINE_ENV, '1')
    with pytest.raises(dl.WeightsUnavailable) as info:
        dl.fetch(base + '/x.pdparams', progress=False)
    line = str(info.value)
    assert 'PPGAN_EXT_OFFLINE=1' in line and base + '/x.pdparams' in line
    assert line.endswith(f"put it at {online / 'x.pdparams'}") and handler.hits == []
    # no connection (nothing listens on the port)
    monkeypatch.delenv(dl.OFFLINE_ENV)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    url = f'http://127.0.0.1:{port}/x.pdparams'
    with pytest.raises(dl.WeightsUnavailable) as info:
        dl.fetch(url, progress=False)
    line = str(info.value)
    assert '\n' not in line and 'cannot be reached' in line and url in line
    assert line.endswith(f"put it at {online / 'x.pdparams'}")
    assert _leftovers(online) == []


def test_ppgans_own_run_time_downloads_go_through_it(server, online, pdparams, monkeypatch,
                                                     tmp_path):
    """What ppgan fetches in a constructor (get_path_from_url / Paddle's
    get_weights_path_from_url) lands in ppgan's and Paddle's folders, checked."""
    from paddle.utils import download as paddle_download
    from ppgan.utils import download as ppgan_download

    from ppgan_ext import compat

    compat.patch_weight_downloads()
    base, handler = server
    handler.routes['/models/vgg_tiny.pdparams'] = ('ok', pdparams)
    path = ppgan_download.get_path_from_url(base + '/models/vgg_tiny.pdparams')
    assert path == str(online / 'vgg_tiny.pdparams') and open(path, 'rb').read() == pdparams
    monkeypatch.setattr(paddle_download, 'WEIGHTS_HOME', str(tmp_path / 'hapi'))
    handler.routes['/InceptionTiny.pdparams'] = ('ok', b'<html>login</html>')
    with pytest.raises(compat.WeightsCorrupt, match='an HTML page'):
        paddle_download.get_weights_path_from_url(base + '/InceptionTiny.pdparams')
    assert not os.path.exists(tmp_path / 'hapi' / 'InceptionTiny.pdparams')
    handler.routes['/InceptionTiny.pdparams'] = ('ok', pdparams)
    got = paddle_download.get_weights_path_from_url(base + '/InceptionTiny.pdparams')
    assert got == str(tmp_path / 'hapi' / 'InceptionTiny.pdparams')
