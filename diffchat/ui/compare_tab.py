"""Compare tab: annotators pick the better of two edits (left / tie / right), stored by a vote store.

Item text and annotator names are shown as text (HTML-escaped), never as Markdown or HTML. Item
images are handed to Gradio as copies in its own cache named by content (`served_copy`), so the app
serves no file of the items folder itself and an image's URL tells neither its method nor its side.
"""
from __future__ import annotations

import atexit
import html
import random
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from ..errors import DiffChatError
from ..storage.annotators import Annotators
from ..storage.items import Item
from ..storage.votes import VoteStore, clean_name
from .results import pair_rates, plot_rates

# Keyboard shortcuts: 1 / ← left, 2 / ↓ / T tie, 3 / → right, S skip, B back (not while typing).
SHORTCUTS_JS = """
<script>
document.addEventListener("keydown", (e) => {
  const t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
  const ids = {"1": "vote-left", "ArrowLeft": "vote-left", "2": "vote-tie", "ArrowDown": "vote-tie",
               "t": "vote-tie", "3": "vote-right", "ArrowRight": "vote-right", "s": "vote-skip",
               "b": "vote-back"};
  const button = document.getElementById(ids[e.key]);
  if (!button || button.offsetParent === null || button.disabled) return;
  e.preventDefault();
  button.click();
});
</script>
"""


def served_copy(path: Path) -> str:
    """A copy of an item image in Gradio's cache, named by its content only (made once)."""
    from gradio.processing_utils import hash_file
    from gradio.utils import get_upload_folder

    dst = Path(get_upload_folder()) / hash_file(path) / f"image{path.suffix.lower()}"
    if not dst.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{random.getrandbits(32):08x}")
        shutil.copyfile(path, tmp)
        tmp.replace(dst)
    return str(dst)


class CompareApp:
    """The compare tab's logic; handlers take and return plain values (testable without a browser).

    Session state is a dict: annotator, queue of (item id, method, method) still to show,
    current task {item, left, right} or None, and the tasks voted on this session (for Back).
    """

    def __init__(self, store: VoteStore, items: list[Item] | None, seed: int | None = None,
                 focus: str | None = "diffchat", annotators: Annotators | None = None):
        self.store = store
        self.annotators = annotators or Annotators()
        self._exports: Path | None = None
        self.items = {item.id: item for item in items or []}
        self.rng = random.Random(seed)
        self.focus = focus  # the method whose win rate the results show, in pairs that hold it

    @staticmethod
    def new_state() -> dict:
        return {"annotator": "", "queue": [], "current": None, "history": []}

    def tasks(self) -> list[tuple[str, str, str]]:
        """Every (item, method_a, method_b) pair to compare, methods sorted."""
        return [(item.id, a, b) for item in self.items.values()
                for i, a in enumerate(item.methods) for b in item.methods[i + 1:]]

    # ---- handlers -----------------------------------------------------------------------------

    def start(self, name: str, state: dict):
        """Set the annotator (by name, or by token when the campaign has tokens) and show their
        first unvoted item."""
        if self.annotators.required:
            name = self.annotators.name_for(name)
            if name is None:
                gr.Warning("That annotator token is not known. Use the token the organisers gave you.")
                return state, *self.view(state)
        elif not (name or "").strip():
            gr.Warning("Please enter your name (any nickname) so your votes can be told apart.")
            return state, *self.view(state)
        if not self.items:
            gr.Warning("No comparison items are loaded. Start the app with --items path/to/items.jsonl.")
            return state, *self.view(state)
        try:
            name = clean_name(name)
            voted = self.store.voted_keys(name)
        except DiffChatError as e:
            gr.Warning(str(e))
            return state, *self.view(state)
        queue = [t for t in self.tasks() if t not in voted]
        self.rng.shuffle(queue)
        state = {**self.new_state(), "annotator": name, "queue": queue}
        return self._advance(state)

    def vote(self, choice: str, state: dict):
        """Store the vote on the current item (changing an earlier one) and move on."""
        task = state.get("current")
        if not task:
            gr.Warning("There is no item to vote on.")
            return state, *self.view(state)
        try:
            self.store.vote(task["item"], task["left"], task["right"], choice, state["annotator"])
        except DiffChatError as e:
            gr.Warning(str(e))
            return state, *self.view(state)
        state = {**state, "history": state["history"] + [task]}
        return self._advance(state)

    def skip(self, state: dict):
        if not state.get("current"):
            return state, *self.view(state)
        return self._advance(state)

    def back(self, state: dict):
        """Show the previous voted item again (same sides); voting again changes that vote."""
        if not state.get("history"):
            gr.Warning("Nothing to go back to yet.")
            return state, *self.view(state)
        prev, current = state["history"][-1], state["current"]
        queue = ([(current["item"], *sorted((current["left"], current["right"])))] if current else []) + state["queue"]
        state = {**state, "history": state["history"][:-1], "queue": queue, "current": prev}
        return state, *self.view(state)

    def _advance(self, state: dict):
        queue = list(state["queue"])
        current = None
        if queue:
            item, a, b = queue.pop(0)
            left, right = (a, b) if self.rng.random() < 0.5 else (b, a)
            current = {"item": item, "left": left, "right": right}
        state = {**state, "queue": queue, "current": current}
        return state, *self.view(state)

    def view(self, state: dict):
        """(setup visible, voting visible, status HTML, instruction HTML, raw, left, right); every
        piece of item text and the annotator's name is escaped."""
        if not state.get("annotator"):
            return gr.update(visible=True), gr.update(visible=False), "", "", None, None, None
        task = state.get("current")
        who = (f"Annotating as <b>{html.escape(state['annotator'])}</b> · "
               f"{len(state['history'])} voted this session")
        if task is None:
            done = "All items are done. Thank you!" if self.items else "No items are loaded."
            return gr.update(visible=False), gr.update(visible=True), f"{who} · {done}", "", None, None, None
        item = self.items[task["item"]]
        left_count = len(state["queue"]) + 1
        status = f"{who} · {left_count} left"
        text = (f"<h3>Instruction: “{html.escape(item.instruction)}”</h3>"
                f"<small>Original prompt: {html.escape(item.raw_prompt)}</small>")
        return (gr.update(visible=False), gr.update(visible=True), status, text, served_copy(item.raw_image),
                served_copy(item.images[task["left"]]), served_copy(item.images[task["right"]]))

    def _admin(self, token: str | None, ask: bool = True) -> bool:
        """Whether `token` opens the results; if not, a warning (for no token only when `ask`)."""
        if self.annotators.is_admin(token):
            return True
        if (token or "").strip():
            gr.Warning("That admin token is not right.")
        elif ask:
            gr.Warning("The results and exports need the admin token.")
        return False

    def results(self, admin_token: str | None = None):
        """(chart, table, summary); behind the admin token when one is set."""
        if not self._admin(admin_token, ask=False):  # opening the tab just shows where to type it
            return plot_rates([]), [], "Enter the admin token to see the results."
        try:
            votes = self.store.votes()
        except DiffChatError as e:
            gr.Warning(str(e))
            return plot_rates([]), [], str(e)
        rates = pair_rates(votes, focus=self.focus)
        return plot_rates(rates), [r.as_row() for r in rates], f"{len(votes)} votes stored."

    def export(self, fmt: str, admin_token: str | None = None) -> str | None:
        if not self._admin(admin_token):
            return None
        if self._exports is None:  # one folder for every export of this app, removed at exit
            self._exports = Path(tempfile.mkdtemp(prefix="diffchat-votes-"))
            atexit.register(shutil.rmtree, self._exports, True)
        out = self._exports / f"votes.{fmt}"
        tmp = out.with_name(f".{out.name}.{random.getrandbits(32):08x}")
        try:
            self.store.export_csv(tmp) if fmt == "csv" else self.store.export_jsonl(tmp)
            tmp.replace(out)  # a download in progress keeps the whole earlier file
            return str(out)
        except DiffChatError as e:
            tmp.unlink(missing_ok=True)
            gr.Warning(str(e))
            return None


def build_compare_tab(app: CompareApp) -> None:
    """The compare tab's components and events (call inside a gr.Blocks / gr.Tab)."""
    state = gr.State(CompareApp.new_state())
    tokens = app.annotators.required
    with gr.Column(visible=True) as setup:
        gr.Markdown("Compare two edits of the same image: which one follows the instruction better "
                    "while keeping the rest of the picture? Enter your "
                    f"{'annotator token' if tokens else 'name'} once to begin.")
        with gr.Row():
            name = gr.Textbox(label="Your annotator token" if tokens else "Your name",
                              placeholder="the token you were given" if tokens else "e.g. alice",
                              type="password" if tokens else "text", elem_id="annotator", scale=4)
            start = gr.Button("Start annotating", variant="primary", elem_id="annotator-start", scale=1)
    with gr.Column(visible=False) as voting:
        status = gr.HTML(elem_id="compare-status")
        instruction = gr.HTML(elem_id="compare-instruction")
        with gr.Row(equal_height=True):
            image = dict(type="filepath", interactive=False, height=340, buttons=["fullscreen"])
            raw = gr.Image(label="Original", elem_id="compare-raw", **image)
            left = gr.Image(label="Left", elem_id="compare-left", **image)
            right = gr.Image(label="Right", elem_id="compare-right", **image)
        with gr.Row():
            vote_left = gr.Button("◀ Left is better  [1]", variant="primary", elem_id="vote-left")
            vote_tie = gr.Button("Tie  [2]", elem_id="vote-tie")
            vote_right = gr.Button("Right is better ▶  [3]", variant="primary", elem_id="vote-right")
        with gr.Row():
            back = gr.Button("↩ Back  [B]", size="sm", variant="secondary", elem_id="vote-back")
            skip = gr.Button("Skip  [S]", size="sm", variant="secondary", elem_id="vote-skip")

    outputs = [state, setup, voting, status, instruction, raw, left, right]
    gr.on([start.click, name.submit], app.start, [name, state], outputs)
    for button, choice in ((vote_left, "left"), (vote_tie, "tie"), (vote_right, "right")):
        button.click(lambda s, c=choice: app.vote(c, s), [state], outputs, concurrency_limit=None)
    skip.click(app.skip, [state], outputs, concurrency_limit=None)
    back.click(app.back, [state], outputs, concurrency_limit=None)


def build_results_tab(app: CompareApp) -> tuple[list, list]:
    """Win/tie/lose chart and table per method pair, with CSV / JSONL export (behind the admin
    token when one is set). Returns (inputs, outputs) of the refresh, for the tab's select event."""
    gr.Markdown("Human preference per method pair (share of votes the first method wins, ties, loses).")
    admin = gr.Textbox(label="Admin token", type="password", elem_id="admin-token",
                       visible=app.annotators.results_locked)
    plot = gr.Plot(label="Preference", elem_id="results-plot")
    table = gr.Dataframe(headers=["Pair", "Win", "Tie", "Lose", "Votes"], interactive=False,
                         elem_id="results-table")
    summary = gr.Markdown()
    with gr.Row():
        refresh = gr.Button("Refresh", elem_id="results-refresh")
        csv_button = gr.Button("Export CSV")
        jsonl_button = gr.Button("Export JSONL")
    export = gr.File(label="Export", interactive=False, height=90)
    outputs = [plot, table, summary]
    gr.on([refresh.click, admin.submit], app.results, [admin], outputs)
    csv_button.click(lambda token: app.export("csv", token), [admin], export)
    jsonl_button.click(lambda token: app.export("jsonl", token), [admin], export)
    return [admin], outputs
