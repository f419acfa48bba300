"""What ``twinflow dashboard-check`` does in the MLflow 3 UI's pages, as JavaScript snippets.

Each snippet is evaluated in the page (``Browser.evaluate``); those ending in ``(%s)`` take a
JavaScript string literal (``json.dumps``).  They click and scroll as a user does; the
selectors are MLflow 3.17's (``data-component-id`` attributes, the slider's ARIA role).
"""

CLOSE_ASSISTANT = ("document.querySelector('[data-component-id=\"mlflow.assistant.chat_panel"
                   ".close\"]')?.click(); true")
# The runs table nests child runs under a collapsed "+" (the square-plus icon's path).
EXPAND_NESTED = """(() => { let n = 0;
  for (const b of document.querySelectorAll('button[data-component-id*="runnamecellrenderer"]'))
    if (b.querySelector('path[d^="M7.25 7.25V4.5"]')) { b.click(); n++; }
  return n; })()"""
SEARCH_CHARTS = 'input[placeholder="Search metric charts"]'
# The grids section comes first and the chart search does not filter images: scroll to the
# section's header (the smallest element whose text starts with its name), as a user scrolls.
SCROLL_TO_SECTION = """(name => { for (const e of document.querySelectorAll('span, div, h2, h3'))
  if (e.children.length <= 2 && (e.innerText || '').trim().startsWith(name)
      && e.getBoundingClientRect().height < 60) { e.scrollIntoView({block: 'start'});
    return true; }
  return false; })(%s)"""
# An image card opens at step 0 and, in the page, shows the run's params above the image:
# its full-screen view (the card's expand button) with the slider at its end shows the grid.
OPEN_CARD = """(key => {
  for (const b of document.querySelectorAll('[data-component-id="fullscreen_button_chartcard"]'))
    for (let e = b, i = 0; e && i < 10; e = e.parentElement, i++)
      if ((e.innerText || '').trim().split('\\n')[0] === key) { b.click(); return true; }
  return false; })(%s)"""
# The point to click at the end of the full-screen card's slider track, and whether the
# slider sits at its last step; ``null`` while the point would not land on the track (the
# dialog still animating open: a click there can fall on the overlay and close the dialog).
SLIDER_END = """(() => { const s = document.querySelector('[role="dialog"] [role="slider"]');
  if (!s) return null; const track = s.closest('span[dir]'), r = track.getBoundingClientRect();
  const x = r.x + r.width - 2, y = r.y + r.height / 2, hit = document.elementFromPoint(x, y);
  if (r.width < 10 || !hit || !track.contains(hit)) return null;
  return [x, y, s.getAttribute('aria-valuenow') === s.getAttribute('aria-valuemax')]; })()"""
IMAGE_SHOWN = """(part => Array.from(document.querySelectorAll('[role="dialog"] img')).some(i => {
  if (!decodeURIComponent(i.src).includes(part) || !i.complete || !i.naturalWidth) return false;
  i.scrollIntoView({block: 'center'});  // below a long param list: as a user scrolls to it
  const r = i.getBoundingClientRect();
  return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === i; }))(%s)"""


__all__ = ["CLOSE_ASSISTANT", "EXPAND_NESTED", "IMAGE_SHOWN", "OPEN_CARD", "SCROLL_TO_SECTION",
           "SEARCH_CHARTS", "SLIDER_END"]
