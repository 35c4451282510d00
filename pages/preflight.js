// mwi doctor --phone: post "loaded" to /api/probe/<probe>/result, then the first tap to /api/probe/<tap>/result.
const params = new URLSearchParams(location.search);
const pad = document.getElementById('pad');

async function post(id, token, body) {
  const resp = await fetch(`/api/probe/${encodeURIComponent(id)}/result`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token, ...body }),
  });
  return resp.ok;
}

async function main() {
  const probe = params.get('probe') || '', token = params.get('token') || '';
  const tap = params.get('tap') || '', tapToken = params.get('taptoken') || '';
  if (!probe || !token) { pad.textContent = 'error: the URL needs ?probe=&token='; return; }
  if (tap && tapToken) {
    let sent = false;
    const onTap = (ev) => {
      if (sent) return;
      sent = true;
      pad.textContent = 'mwi preflight: tap received';
      post(tap, tapToken, { kind: ev.type, x: Math.round(ev.clientX), y: Math.round(ev.clientY),
                            is_trusted: ev.isTrusted, width: innerWidth, height: innerHeight });
    };
    addEventListener('pointerdown', onTap, { capture: true });
    addEventListener('click', onTap, { capture: true });
  }
  await post(probe, token, {
    loaded: true, user_agent: navigator.userAgent, cross_origin_isolated: self.crossOriginIsolated === true,
    visibility: document.visibilityState, width: innerWidth, height: innerHeight,
    device_pixel_ratio: devicePixelRatio,
  });
}

main().catch((e) => { pad.textContent = `preflight bug: ${e.message}`; });
