"""`paddlegan serve` driven by a real headless Chromium (Debian's chromium + chromium-driver).

The server runs in its own process with tiny models (an exported x4 SR net,
random 1-level LapStyle weights); Selenium drives the page: restore and
stylize a photo, download the results and compare them with the command
line's, bad uploads and a burst of requests, and the browser's network log.
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from _export_helpers import env, export_tiny_sr, run_tool
from _fusion_helpers import write_lapstyle_weights, write_photo

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCREENSHOT = os.path.join(ROOT, 'docs', 'img', 'serve.png')   # the README's figure, written only
UPDATE_FIGURES = os.environ.get('PPGAN_EXT_UPDATE_FIGURES') == '1'   # when this is set
PIXEL_LIMIT = 300_000          # $PPGAN_EXT_MAX_IMAGE_PIXELS of the server
TILE = 32

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason='needs Debian chromium + chromium-driver (see .ci/run)'),
]


class App:
    """The server process, its folders and a Selenium-driven Chromium."""

    def __init__(self, root):
        self.root = root
        self.network = []          # every URL the page requested
        self.downloads = str(root / 'downloads')
        os.makedirs(self.downloads)

    def collect_network(self):
        for entry in self.driver.get_log('performance'):
            message = json.loads(entry['message'])['message']
            if message.get('method') == 'Network.requestWillBeSent':
                self.network.append(message['params']['request']['url'])

    def wait(self, predicate, timeout=60, what='condition'):
        end = time.time() + timeout
        while time.time() < end:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f'timed out waiting for {what}')


def _start_server(root, sr_model, lapstyle):
    work, cwd, home = root / 'work', root / 'cwd', root / 'home'
    os.makedirs(cwd)
    os.makedirs(home)
    cmd = [sys.executable, '-m', 'ppgan_ext.cli', 'serve', '--sr-model', sr_model,
           '--lapstyle', lapstyle, '--port', '0', '--work-dir', str(work), '--max-queue', '2',
           '--max-upload-mb', '1', '--tile', str(TILE), '--tile-overlap', '8']
    proc = subprocess.Popen(cmd, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(HOME=str(home), XDG_CACHE_HOME=str(home / '.cache'),
                                               PPGAN_EXT_MAX_IMAGE_PIXELS=str(PIXEL_LIMIT)))
    lines: 'queue.Queue' = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=120)
    except queue.Empty:
        proc.kill()
        raise AssertionError(f'server did not start: {proc.stderr.read()[-2000:]}')
    assert line.startswith('serving on http://127.0.0.1:'), line
    return proc, line.split()[2], work, cwd, home


def _browser(download_dir, user_data):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', f'--user-data-dir={user_data}',
                 '--window-size=1360,980', '--hide-scrollbars'):
        options.add_argument(flag)
    options.add_experimental_option('prefs', {'download.default_directory': download_dir,
                                              'download.prompt_for_download': False,
                                              'safebrowsing.enabled': False})
    options.set_capability('goog:loggingPrefs', {'performance': 'ALL'})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope='module')
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp('serve')
    os.makedirs(root / 'sr')
    sr_model = export_tiny_sr(str(root / 'sr'), seed=3, norm='none', global_residual=True,
                              parity_sizes=((16, 16),))
    lapstyle = write_lapstyle_weights(str(root / 'lapstyle.pdparams'), levels=1, seed=2)
    a = App(root)
    a.sr_model, a.lapstyle = sr_model, lapstyle
    a.proc, a.url, a.work, a.cwd, a.home = _start_server(root, sr_model, lapstyle)
    a.driver = _browser(a.downloads, str(root / 'chrome-profile'))
    try:
        yield a
    finally:
        try:
            a.collect_network()
        finally:
            a.driver.quit()
            a.proc.terminate()
            try:
                a.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                a.proc.kill()


def _open(app):
    from selenium.webdriver.common.by import By

    app.driver.get(app.url)
    app.wait(lambda: app.driver.find_element(By.TAG_NAME, 'body').get_attribute('data-ready'),
             what='page ready')


def _run(app, photos, mode, texture=None, style=None, upscale=False):
    """Fill in the form, press Run; return the new job cards."""
    from selenium.webdriver.common.by import By

    d = app.driver
    before = len(d.find_elements(By.CSS_SELECTOR, '.job'))
    d.find_element(By.ID, f'mode-{mode}').click()
    if mode == 'stylize':
        if texture:
            d.find_element(By.ID, f'texture-{texture}').click()
        d.find_element(By.ID, 'style-file').clear()
        if style:
            d.find_element(By.ID, 'style-file').send_keys(style)
        box = d.find_element(By.ID, 'upscale')
        if box.is_selected() != upscale:
            box.click()
    d.find_element(By.ID, 'photos').clear()   # chromedriver adds to a multiple selection
    d.find_element(By.ID, 'photos').send_keys('\n'.join(photos))
    d.find_element(By.ID, 'run').click()
    return before


def _finished_cards(app, count, before, timeout=120):
    from selenium.webdriver.common.by import By

    def done():
        cards = app.driver.find_elements(By.CSS_SELECTOR, '.job')
        new = cards[:len(cards) - before]   # newest first
        if len(new) < count or any(c.get_attribute('data-state') not in ('done', 'error')
                                   for c in new):
            return None
        return new
    return app.wait(done, timeout, f'{count} finished job card(s)')


def _download(app, card):
    from selenium.webdriver.common.by import By

    link = card.find_element(By.CSS_SELECTOR, 'a.download')
    name = link.get_attribute('download')
    link.click()
    path = os.path.join(app.downloads, name)
    app.wait(lambda: os.path.isfile(path) and not os.path.exists(path + '.crdownload'),
             30, f'download of {name}')
    time.sleep(0.3)
    return path


def _cli_output(args, out_dir):
    proc = run_tool(['-m', 'ppgan_ext.cli'] + args + ['--output', out_dir])
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = os.listdir(out_dir)
    assert len(files) == 1, files
    return os.path.join(out_dir, files[0])


def _same_png(downloaded, reference):
    got = cv2.imread(downloaded, cv2.IMREAD_UNCHANGED)
    want = cv2.imread(reference, cv2.IMREAD_UNCHANGED)
    assert got is not None and want is not None
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    return got


def test_restore_and_stylize_in_the_page_give_the_command_lines_pixels(app):
    from selenium.webdriver.common.by import By

    photo = write_photo(str(app.root / 'in' / 'chelsea.png'), 'chelsea', (90, 120))
    _open(app)

    # stylize with an uploaded style image, not upscaled: the photo's own size
    style = write_photo(str(app.root / 'in' / 'style.jpg'), 'brick', (64, 80))
    before = _run(app, [photo], 'stylize', style=style, upscale=False)
    [card] = _finished_cards(app, 1, before)
    assert card.get_attribute('data-state') == 'done', card.text
    assert 'done · 120×90' in card.text

    # stylize with a bundled texture, upscaled: `paddlegan stylize --upscale`
    gravel = str(app.root / 'gravel.png')
    from ppgan_ext.sample_data import sample_image
    cv2.imwrite(gravel, cv2.cvtColor(sample_image('gravel'), cv2.COLOR_RGB2BGR))
    before = _run(app, [photo], 'stylize', texture='gravel', upscale=True)
    [card] = _finished_cards(app, 1, before)
    assert card.get_attribute('data-state') == 'done', card.text
    stylized = _download(app, card)
    reference = _cli_output(['stylize', '--content', photo, '--style', gravel, '--weights',
                             app.lapstyle, '--upscale', app.sr_model, '--upscale-tile',
                             str(TILE), '--upscale-tile-overlap', '8', '--no-cuda'],
                            str(app.root / 'cli_stylize'))
    img = _same_png(stylized, reference)
    assert img.shape == (360, 480, 3) and img.std() > 2

    # restore (last, so that it is on top in the screenshot): x4 of the photo, the pixels
    # of `paddlegan infer --tile`
    before = _run(app, [photo], 'restore')
    [card] = _finished_cards(app, 1, before)
    assert card.get_attribute('data-state') == 'done', card.text
    assert 'done · 480×360' in card.text
    after = card.find_element(By.CSS_SELECTOR, 'img.after')
    app.wait(lambda: app.driver.execute_script(
        'return arguments[0].complete && arguments[0].naturalWidth', after) == 480,
        what='restored image shown')
    restored = _download(app, card)
    assert os.path.basename(restored) == 'chelsea_restored.png'
    reference = _cli_output(['infer', '--model_dir', app.sr_model, '--input', photo,
                             '--tile', str(TILE), '--tile-overlap', '8'],
                            str(app.root / 'cli_restore'))
    img = _same_png(restored, reference)
    assert img.shape == (360, 480, 3) and img.std() > 5

    # the screenshot of the README: before/after of the restore (the stylize cards below it
    # show random tiny LapStyle nets, whose output is no real stylization)
    app.driver.find_element(By.ID, 'mode-stylize').click()   # show the style choices too
    app.driver.set_window_size(1360, 720)
    app.driver.execute_script('window.scrollTo(0, 0)')
    time.sleep(0.5)
    shot = str(app.root / 'serve.png')
    assert app.driver.save_screenshot(shot)
    assert cv2.imread(shot).std() > 10
    if UPDATE_FIGURES:
        shutil.copyfile(shot, SCREENSHOT)
    app.driver.set_window_size(1360, 980)


def _page_token(app):
    """The per-page token the server wrote into the page (what app.js sends with each POST)."""
    from selenium.webdriver.common.by import By

    return app.driver.find_element(By.CSS_SELECTOR, 'meta[name="ppgan-token"]').get_attribute(
        'content')


def _card_error(app, before):
    [card] = _finished_cards(app, 1, before)
    assert card.get_attribute('data-state') == 'error', card.text
    return card.text


def test_bad_uploads_and_a_burst_get_messages_and_the_server_keeps_serving(app):
    from selenium.webdriver.common.by import By

    bad = app.root / 'bad'
    os.makedirs(bad)
    text = bad / 'notes.png'
    text.write_text('not an image at all\n' * 10)
    photo = write_photo(str(bad / 'coffee.png'), 'coffee', (200, 200))
    with open(photo, 'rb') as f:
        data = f.read()
    cut = bad / 'cut.png'
    cut.write_bytes(data[:len(data) // 2])
    big = write_photo(str(bad / 'big.png'), 'rocket', (600, 600))       # over PIXEL_LIMIT
    huge = bad / 'huge.bmp'
    huge.write_bytes(b'BM' + bytes(2 ** 20 + 10))                       # over --max-upload-mb
    tiny_style = write_photo(str(bad / 'tiny_style.png'), 'grass', (20, 20))
    _open(app)

    before = _run(app, [str(text)], 'restore')
    assert 'notes.png: not an image' in _card_error(app, before)
    before = _run(app, [str(cut)], 'restore')
    assert 'cut.png: corrupt or truncated' in _card_error(app, before)
    before = _run(app, [big], 'restore')
    msg = _card_error(app, before)
    assert 'big.png' in msg and '600x600' in msg and str(PIXEL_LIMIT) in msg
    before = _run(app, [str(huge)], 'restore')
    assert 'over the upload limit of 1048576 bytes' in _card_error(app, before)
    before = _run(app, [photo], 'stylize', style=tiny_style)
    message = app.wait(lambda: app.driver.find_element(By.ID, 'messages').text,
                       what='style message')
    assert 'tiny_style' in message and '20x20' in message and 'at least 32' in message

    # the server refuses the same things without the page's help (a script with the page's
    # token: without it, or with the Origin of another site, nothing is accepted)
    # (the server answers 413 from Content-Length and closes without reading the body, so
    # the client may see a broken pipe while sending: the answer is read all the same)
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(app.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    body = huge.read_bytes()
    conn.putrequest('POST', '/api/uploads?name=huge.bmp')
    token = {'X-Ppgan-Token': _page_token(app)}
    for key, value in (*token.items(), ('Content-Length', str(len(body))),
                       ('Content-Type', 'application/octet-stream')):
        conn.putheader(key, value)
    conn.endheaders()
    try:
        conn.send(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = conn.getresponse()
    assert answer.status == 413 and 'over the limit' in json.loads(answer.read())['error']
    conn.close()

    # 20 photos at once through the page: each card ends done or with the busy message
    many = [write_photo(str(bad / f'p{i:02d}.png'), 'astronaut', (160 + i, 200)) for i in range(20)]
    before = _run(app, many, 'restore')
    cards = _finished_cards(app, 20, before, timeout=180)
    states = [c.get_attribute('data-state') for c in cards]
    busy = [c.text for c in cards if c.get_attribute('data-state') == 'error']
    assert states.count('done') >= 2 and busy, states
    assert all('busy' in t and 'try again' in t for t in busy), busy

    # 20 raw requests at once: every one gets an answer with a message
    upload = json.load(urllib.request.urlopen(urllib.request.Request(
        app.url + 'api/uploads?name=coffee.png', data=data, method='POST', headers=token),
        timeout=30))
    answers = []

    def submit():
        body = json.dumps({'mode': 'restore', 'photo': upload['id']}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    app.url + 'api/jobs', data=body, method='POST', headers=token),
                    timeout=60) as r:
                answers.append((r.status, json.load(r)))
        except urllib.error.HTTPError as e:
            answers.append((e.code, json.load(e)))
    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 20
    assert {code for code, _ in answers} <= {202, 503}
    assert all('busy' in a['error'] for code, a in answers if code == 503)
    assert any(code == 503 for code, _ in answers)

    # still serving: one more photo restores
    app.wait(lambda: json.load(urllib.request.urlopen(app.url + 'api/info'))['restore'],
             what='info')
    time.sleep(3)   # let the burst drain
    before = _run(app, [photo], 'restore')
    [card] = _finished_cards(app, 1, before)
    assert card.get_attribute('data-state') == 'done', card.text
    assert app.proc.poll() is None


def test_only_local_requests_and_only_the_work_folder_written(app):
    app.collect_network()
    assert app.network, 'no requests logged'
    # requests that leave the browser: http(s)/ws(s); chrome:// pages of the browser's
    # own start-up tab, data: and blob: URLs are not network requests
    network = [u for u in app.network if u.split(':', 1)[0].lower() in
               ('http', 'https', 'ws', 'wss', 'ftp')]
    outside = [u for u in network if not u.startswith(app.url)]
    assert len(network) > 20
    assert not outside, outside
    assert any(u.endswith('/api/info') for u in network)
    # the server wrote nothing in its working directory or home, only in --work-dir
    assert os.listdir(app.cwd) == []
    # (importing Paddle creates the empty folder ~/.cache/paddle/dataset; no file may appear)
    written = [os.path.join(r, f) for r, _, files in os.walk(app.home) for f in files]
    assert written == []
    assert sorted(os.listdir(app.work)) == ['.ppgan-ext-serve', 'results', 'uploads']
