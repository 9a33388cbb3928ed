// The page of `paddlegan serve`: uploads photos, starts jobs, polls them, shows before/after.
// Talks to this server only (see the Content-Security-Policy header).
'use strict';

const state = { info: null, texture: null };
const $ = (id) => document.getElementById(id);
// the page's token: sent with every request that changes something (the server checks it
// or the Origin header, so that pages of other sites cannot upload or start jobs)
const TOKEN = document.querySelector('meta[name="ppgan-token"]').content;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function showMessage(text) {
  const box = $('messages');
  box.replaceChildren();
  if (text) box.append(el('div', { class: 'message' }, text));
}

async function api(method, url, body, type) {
  let response;
  try {
    const headers = type ? { 'Content-Type': type } : {};
    if (method !== 'GET') headers['X-Ppgan-Token'] = TOKEN;
    response = await fetch(url, { method, body, headers });
  } catch (err) {
    return { ok: false, data: { error: 'the server cannot be reached (' + err.message + ')' } };
  }
  let data;
  try { data = await response.json(); } catch (err) { data = { error: 'bad answer from the server' }; }
  return { ok: response.ok, status: response.status, data };
}

async function uploadFile(file) {
  const limit = state.info.max_upload;
  if (file.size > limit) {
    return { ok: false, data: { error: file.name + ': ' + file.size + ' bytes is over the upload limit of '
      + limit + ' bytes (' + Math.round(limit / 1048576) + ' MiB)' } };
  }
  return api('POST', '/api/uploads?name=' + encodeURIComponent(file.name), file,
             'application/octet-stream');
}

function mode() { return $('mode-stylize').checked ? 'stylize' : 'restore'; }

function jobCard(file) {
  const status = el('span', { class: 'status' }, 'uploading');
  const bar = el('progress', { max: '1', value: '0' });
  const before = el('img', { alt: 'before', src: URL.createObjectURL(file) });
  const after = el('img', { alt: 'after', class: 'after' });
  after.hidden = true;
  const afterCaption = el('figcaption', {}, 'after');
  const card = el('article', { class: 'job' },
    el('div', { class: 'job-head' }, el('span', { class: 'job-name' }, file.name), status),
    bar,
    el('div', { class: 'pair' },
      el('figure', {}, before, el('figcaption', {}, 'before')),
      el('figure', {}, after, afterCaption)));
  $('jobs').prepend(card);
  const empty = document.querySelector('#jobs .empty');
  if (empty) empty.remove();
  return {
    card,
    setStatus(text) { status.textContent = text; },
    setProgress(value) { bar.value = value; },
    fail(text) {
      card.classList.add('error');
      card.dataset.state = 'error';
      status.textContent = text;
      bar.hidden = true;
    },
    done(job) {
      card.classList.add('done');
      card.dataset.state = 'done';
      bar.value = 1;
      bar.hidden = true;
      status.textContent = 'done · ' + job.width + '×' + job.height;
      after.src = '/api/jobs/' + job.id + '/result';
      after.hidden = false;
      afterCaption.textContent = 'after · ' + job.width + '×' + job.height;
      const link = el('a', { class: 'download', href: '/api/jobs/' + job.id + '/result',
                             download: job.download }, 'Download ' + job.download);
      card.append(link);
    },
  };
}

function poll(jobId, view) {
  return new Promise((resolve) => {
    const tick = async () => {
      const res = await api('GET', '/api/jobs/' + jobId);
      if (!res.ok) { view.fail(res.data.error); return resolve(); }
      const job = res.data;
      if (job.state === 'done') { view.done(job); return resolve(); }
      if (job.state === 'error') { view.fail(job.message); return resolve(); }
      view.setProgress(job.progress);
      view.setStatus(job.state === 'queued' ? 'waiting in the queue'
                                            : job.stage + ' ' + Math.round(job.progress * 100) + '%');
      setTimeout(tick, 300);
    };
    tick();
  });
}

async function processPhoto(file, request) {
  const view = jobCard(file);
  const up = await uploadFile(file);
  if (!up.ok) return view.fail(up.data.error);
  view.setStatus('queued');
  const res = await api('POST', '/api/jobs', JSON.stringify({ ...request, photo: up.data.id }),
                        'application/json');
  if (!res.ok) return view.fail(res.data.error);
  return poll(res.data.id, view);
}

async function run() {
  showMessage('');
  const files = Array.from($('photos').files);
  if (!files.length) return showMessage('Choose one or more photos first.');
  const request = { mode: mode() };
  if (request.mode === 'stylize') {
    const styleFile = $('style-file').files[0];
    if (styleFile) {
      const up = await uploadFile(styleFile);
      if (!up.ok) return showMessage('Style: ' + up.data.error);
      if (Math.min(up.data.width, up.data.height) < state.info.style_min_side) {
        return showMessage('Style: ' + up.data.name + ' is ' + up.data.width + 'x' + up.data.height
          + '; the style model needs sides of at least ' + state.info.style_min_side + ' pixels');
      }
      request.style = up.data.id;
    } else if (state.texture) {
      request.texture = state.texture;
    } else {
      return showMessage('Choose a style: a texture or your own image.');
    }
    request.upscale = $('upscale').checked;
  }
  $('run').disabled = true;
  try {
    await Promise.all(files.map((file) => processPhoto(file, request)));
  } finally {
    $('run').disabled = false;
  }
}

function selectTexture(name) {
  state.texture = name;
  for (const button of document.querySelectorAll('.texture')) {
    button.classList.toggle('selected', button.dataset.texture === name);
  }
}

async function init() {
  const res = await api('GET', '/api/info');
  if (!res.ok) return showMessage(res.data.error);
  const info = state.info = res.data;
  $('mode-restore').disabled = !info.restore;
  $('mode-stylize').disabled = !info.stylize;
  if (!info.restore && info.stylize) $('mode-stylize').checked = true;
  $('restore-hint').textContent = info.restore ? '(×' + info.restore_scale + ')' : '(no model)';
  $('upscale-hint').textContent = info.upscale_scale ? '(×' + info.upscale_scale + ')' : '(no model)';
  $('upscale').disabled = !info.upscale_scale;
  for (const name of info.textures) {
    const button = el('button', { type: 'button', class: 'texture', id: 'texture-' + name,
                                  'data-texture': name },
                      el('img', { src: '/api/textures/' + name + '.png', alt: name }), name);
    button.addEventListener('click', () => { selectTexture(name); $('style-file').value = ''; });
    $('textures').append(button);
  }
  if (info.textures.length) selectTexture(info.textures[0]);
  $('style-file').addEventListener('change', () => { if ($('style-file').files.length) selectTexture(null); });
  const update = () => { $('style-field').hidden = mode() !== 'stylize'; };
  $('mode-restore').addEventListener('change', update);
  $('mode-stylize').addEventListener('change', update);
  update();
  $('models').textContent = 'Models: ' + info.models.map((m) => m.task + ' '
    + (m.scale ? '×' + m.scale + ' ' : '') + '(' + m.name + ')').join(', ') + '.';
  $('limits').textContent = 'Limits: ' + Math.round(info.max_upload / 1048576) + ' MiB per upload, '
    + (info.max_pixels / 1e6).toFixed(1) + ' megapixels per image, ' + info.max_queue
    + ' jobs at a time.';
  $('jobs').append(el('p', { class: 'empty' }, 'Results appear here, before and after side by side.'));
  $('run').addEventListener('click', run);
  document.body.dataset.ready = '1';
}

init();
