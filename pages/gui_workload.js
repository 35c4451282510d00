// The QoE GUI workload: a fixed, seeded set of typical UI tasks, each timed from its start to
// the frame that shows its result (requestAnimationFrame after the change, then the first task
// after that frame: the frame has been produced).  Deterministic (seeded PRNG), no network.
//
// What each task stands for (pages/README.md has the same list):
//   list      build and insert a list of 300 items (a feed or search results appearing)
//   restyle   toggle a class on 300 items and force layout (a theme / density switch)
//   scroll    jump a 2000-row list to a seeded position (the user scrolling a long list)
//   inputs    update 24 text inputs and their labels (a form being filled / validated)
//   canvas    draw a 400-point line chart and 40 bars on a 2D canvas (a dashboard chart)
//   animation a 150 ms CSS animation of an element's width (a UI transition); its time is how late
//             the frame after its animationend came, beyond the 150 ms it is meant to take

export const TASKS = ['list', 'restyle', 'scroll', 'inputs', 'canvas', 'animation'];
const ANIMATION_MS = 150;

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet',
  'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango'];

// Resolves after the next frame has been produced: a rAF callback runs just before the frame's
// style/layout/paint, a message posted from it is handled right after that frame.
const chan = new MessageChannel();
const afterFrame = [];
chan.port1.onmessage = () => { const r = afterFrame.shift(); if (r) r(performance.now()); };
export function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => { afterFrame.push(resolve); chan.port2.postMessage(0); }));
}

export class GuiWorkload {
  constructor(root, seed) {
    this.root = root;
    this.rand = mulberry32(seed);
    root.innerHTML = `
      <div class="qoe-row"><ul id="qoe-list" class="qoe-list"></ul>
        <div id="qoe-scroll" class="qoe-scroll"></div></div>
      <div class="qoe-row"><form id="qoe-form" class="qoe-form"></form>
        <canvas id="qoe-canvas" width="320" height="160"></canvas></div>
      <div id="qoe-anim" class="qoe-anim"></div>`;
    this.list = root.querySelector('#qoe-list');
    this.scroller = root.querySelector('#qoe-scroll');
    this.form = root.querySelector('#qoe-form');
    this.canvas = root.querySelector('#qoe-canvas');
    this.anim = root.querySelector('#qoe-anim');
    const rows = [];
    for (let i = 0; i < 2000; i++) rows.push(`<div class="qoe-srow">row ${i} ${WORDS[i % WORDS.length]}</div>`);
    this.scroller.innerHTML = rows.join('');
    const inputs = [];
    for (let i = 0; i < 24; i++) inputs.push(`<label>field ${i} <input name="f${i}" value=""></label>`);
    this.form.innerHTML = inputs.join('');
    this.inputs = Array.from(this.form.querySelectorAll('input'));
    this.labels = Array.from(this.form.querySelectorAll('label'));
    this.items = [];
  }

  word() { return WORDS[Math.floor(this.rand() * WORDS.length)]; }

  async run(name) {
    // {name, start_ms, ms}: from the task's first line to the frame that shows its result
    const t0 = performance.now();
    await this[`task_${name}`]();
    const t1 = await nextFrame();
    // the animation runs for ANIMATION_MS by design: its time is how late its end reached the screen
    const nominal = name === 'animation' ? ANIMATION_MS : 0;
    return { name, start_ms: t0, ms: Math.max(t1 - t0 - nominal, 0.001) };
  }

  async task_list() {
    const frag = document.createDocumentFragment();
    for (let i = 0; i < 300; i++) {
      const li = document.createElement('li');
      li.textContent = `${i}: ${this.word()} ${this.word()} ${Math.floor(this.rand() * 1000)}`;
      frag.appendChild(li);
    }
    this.list.replaceChildren(frag);
    this.items = Array.from(this.list.children);
    void this.list.offsetHeight;   // layout now, inside the task
  }

  async task_restyle() {
    const on = this.rand() < 0.5;
    for (const li of this.items) li.classList.toggle('qoe-dense', on);
    let h = 0;
    for (let i = 0; i < this.items.length; i += 10) h += this.items[i].getBoundingClientRect().height;
    this.lastHeight = h;
  }

  async task_scroll() {
    const target = Math.floor(this.rand() * (this.scroller.scrollHeight - this.scroller.clientHeight));
    const scrolled = new Promise((r) => this.scroller.addEventListener('scroll', r, { once: true }));
    this.scroller.scrollTop = target === this.scroller.scrollTop ? target + 1 : target;
    await scrolled;
  }

  async task_inputs() {
    this.inputs.forEach((el, i) => {
      el.value = `${this.word()}-${Math.floor(this.rand() * 100)}`;
      this.labels[i].classList.toggle('qoe-bad', el.value.length > 9);
    });
    void this.form.offsetHeight;
  }

  async task_canvas() {
    const ctx = this.canvas.getContext('2d');
    const w = this.canvas.width, h = this.canvas.height;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#9ecae1';
    for (let i = 0; i < 40; i++) {
      const bh = this.rand() * h * 0.6;
      ctx.fillRect(i * (w / 40), h - bh, w / 40 - 1, bh);
    }
    ctx.strokeStyle = '#d62728';
    ctx.beginPath();
    let y = h / 2;
    for (let i = 0; i < 400; i++) {
      y = Math.min(h, Math.max(0, y + (this.rand() - 0.5) * 12));
      if (i === 0) ctx.moveTo(0, y); else ctx.lineTo((i * w) / 400, y);
    }
    ctx.stroke();
  }

  async task_animation() {
    const el = this.anim;
    el.classList.remove('qoe-go');
    void el.offsetWidth;
    const ended = new Promise((r) => el.addEventListener('animationend', r, { once: true }));
    el.style.animationDuration = `${ANIMATION_MS}ms`;
    el.classList.add('qoe-go');
    await ended;
  }
}

export class FrameWindow {
  // rAF intervals over the measuring window: fps and the share of long frames (> 50 ms)
  constructor(longMs) { this.longMs = longMs; this.stamps = []; this.running = false; }
  start() {
    this.running = true;
    const tick = (t) => { if (!this.running) return; this.stamps.push(t); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  }
  stop() {
    this.running = false;
    const d = [];
    for (let i = 1; i < this.stamps.length; i++) d.push(this.stamps[i] - this.stamps[i - 1]);
    const span = this.stamps.length > 1 ? this.stamps[this.stamps.length - 1] - this.stamps[0] : 0;
    const sorted = [...d].sort((a, b) => a - b);
    return {
      source: 'in-page rAF', count: d.length, long_frames: d.filter((x) => x > this.longMs).length,
      long_frame_threshold_ms: this.longMs, span_ms: span,
      fps: span > 0 ? (d.length * 1000) / span : null,
      median_frame_ms: d.length ? sorted[Math.floor(sorted.length / 2)] : null,
      max_frame_ms: d.length ? sorted[sorted.length - 1] : null,
    };
  }
}
