"""Continuous batching: one thread owns the models and runs the decode loop for every request.

Requests are flattened to rows (prompt x sample). Each loop turn admits waiting rows up to
`max_batch` (a prompt is prefilled once and its rows copy that cache), runs one decode step for the
rows of one model, picks each row's next token, streams text deltas, and retires rows that hit EOS, a
stop sequence, max_new_tokens or the model's context. Rows of cancelled requests leave at the next
turn. A request's events (`Chunk`s, then `None`) arrive on its queue.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from commentslab.services.common.logs import setup_logging
from commentslab.services.serving import metrics
from commentslab.services.serving.decoder import Decoder, Group, Prefill
from commentslab.services.serving.sampling import Sampling, choose_tokens, held_back, row_random, stop_index

log = setup_logging(__name__)
_ids = itertools.count(1)


@dataclass(frozen=True)
class Chunk:
    """New text of one sample; the last chunk of a sample has done=True and its finish reason."""

    prompt_index: int
    sample_index: int
    text: str
    done: bool = False
    finish_reason: str = ""
    generated_tokens: int = 0


@dataclass(frozen=True)
class Model:
    """A loaded model as the loop uses it."""

    name: str
    decoder: Decoder
    tokenizer: object
    eos: frozenset[int]


@dataclass
class Request:
    """One Generate call: its prompts as token ids, its settings, and the queue its chunks go to."""

    model: Model
    prompts: list[list[int]]
    sampling: Sampling
    events: queue.Queue = field(default_factory=queue.Queue)
    id: int = field(default_factory=lambda: next(_ids))
    submitted: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    rows_left: int = 0
    tokens: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""
    finished: bool = False

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the loop to drop this request's rows at its next turn."""
        if not self.cancelled.is_set():
            self.cancel_reason = reason
            self.cancelled.set()


@dataclass
class _Prompt:
    """A prompt of a request whose samples are not all admitted yet; holds its prefill meanwhile."""

    request: Request
    index: int
    next_sample: int = 0
    prefill: Prefill | None = None


@dataclass
class _Row:
    request: Request
    prompt_index: int
    sample_index: int
    random: object
    prompt_length: int
    ids: list[int] = field(default_factory=list)
    text: str = ""  # decoded so far (complete characters only)
    decoded: tuple[int, int] = (0, 0)  # ids[a:b] is the window `text` last grew from (incremental decoding)
    sent: int = 0  # characters streamed so far
    tokens: int = 0
    pending: int = -1  # the token to feed at the next step
    finish: str = ""


class Scheduler:
    """The decode loop and its queue; `submit` from any thread, everything else on the loop's thread."""

    def __init__(self, max_batch: int = 16, batch_wait: float = 0.002):
        self.max_batch = max_batch
        self.batch_wait = batch_wait
        self._waiting: deque[_Prompt] = deque()
        self._groups: dict[Decoder, list[Group]] = {}  # by model; a reloaded name gets a new Decoder
        self._turn = 0
        self._wake = threading.Condition()
        self._stopped = False
        self._window: dict[str, list] = {}  # model -> [tokens, seconds] since its tokens/s gauge was last set
        self._thread = threading.Thread(target=self._loop, name="model-server-scheduler", daemon=True)
        self._thread.start()

    def submit(self, request: Request) -> Request:
        """Queue a request's rows; its chunks arrive on `request.events`."""
        request.rows_left = len(request.prompts) * request.sampling.n
        metrics.IN_FLIGHT.inc()
        with self._wake:
            self._waiting.extend(_Prompt(request, i) for i in range(len(request.prompts)))
            metrics.QUEUE_DEPTH.set(self._queued_rows())
            self._wake.notify()
        return request

    def wake(self) -> None:
        """Make the loop look at cancellations now rather than after its current step."""
        with self._wake:
            self._wake.notify()

    def stop(self) -> None:
        """End the loop thread (rows still running are dropped)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=10)

    def active_rows(self) -> int:
        """Rows in the running batch (all models)."""
        return sum(len(g.rows) for groups in list(self._groups.values()) for g in groups)

    def _queued_rows(self) -> int:
        return sum(p.request.sampling.n - p.next_sample for p in self._waiting)

    # --- the loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and not self._waiting and not self.active_rows():
                    self._wake.wait()
                if self._stopped:
                    return
                idle = not self.active_rows()
            if idle and self.batch_wait:
                time.sleep(self.batch_wait)  # let requests sent together arrive together
            try:
                self._drop_cancelled()
                self._admit()
                self._step()
            except Exception as exc:  # a bug or an out-of-memory must fail the requests, not hang them
                log.exception("decode loop failed; failing every running request")
                self._fail_all(exc)

    def _drop_cancelled(self) -> None:
        dropped: dict[int, Request] = {}
        with self._wake:
            for work in [w for w in self._waiting if w.request.cancelled.is_set()]:
                self._waiting.remove(work)
                dropped[work.request.id] = work.request
        for key, groups in self._groups.items():
            for g in groups:
                keep = [i for i, row in enumerate(g.rows) if not row.request.cancelled.is_set()]
                if len(keep) < len(g.rows):
                    for row in g.rows:
                        if row.request.cancelled.is_set():
                            dropped[row.request.id] = row.request
                    g.keep(keep)
            self._groups[key] = [g for g in groups if g.rows]
        for request in dropped.values():
            if request.finished:
                continue
            elapsed = time.perf_counter() - request.submitted
            log.info("request %d on %s %s after %.2fs: %d of %d rows left the batch unfinished",
                     request.id, request.model.name, request.cancel_reason, elapsed, request.rows_left,
                     len(request.prompts) * request.sampling.n)
            metrics.CANCELLED.labels(request.cancel_reason).inc()
            self._end(request)

    def _admit(self) -> None:
        free = self.max_batch - self.active_rows()
        while free > 0:
            with self._wake:
                if not self._waiting:
                    break
                work = self._waiting[0]
            request, model = work.request, work.request.model
            if work.prefill is None:
                work.prefill = model.decoder.prefill(request.prompts[work.index])
            take = min(free, request.sampling.n - work.next_sample)
            rows = [_Row(request, work.index, s, row_random(request.sampling.seed, work.index, s), work.prefill.length)
                    for s in range(work.next_sample, work.next_sample + take)]
            work.next_sample += take
            prefill = work.prefill
            if work.next_sample == request.sampling.n:
                with self._wake:
                    self._waiting.popleft()
            free -= take
            logits = prefill.logits[None].expand(len(rows), -1)
            live = self._accept(rows, logits)
            if live:
                group = model.decoder.group(prefill, live, request.sampling.max_new_tokens)
                self._groups.setdefault(model.decoder, []).append(group)
        with self._wake:
            metrics.QUEUE_DEPTH.set(self._queued_rows())

    def _step(self) -> None:
        decoders = [key for key, groups in self._groups.items() if groups]
        if not decoders:
            return
        self._turn += 1
        decoder = decoders[self._turn % len(decoders)]
        groups = self._groups[decoder]
        name = groups[0].rows[0].request.model.name
        rows = [row for g in groups for row in g.rows]
        start = time.perf_counter()
        logits = decoder.step(groups, [row.pending for row in rows])
        self._accept(rows, logits)
        for g in groups:
            keep = [i for i, row in enumerate(g.rows) if not row.finish]
            if len(keep) < len(g.rows):
                g.keep(keep)
        self._groups[decoder] = [g for g in groups if g.rows]
        seconds = time.perf_counter() - start
        metrics.BATCH_SIZE.observe(len(rows))
        window = self._window.setdefault(name, [0, 0.0])
        window[0] += len(rows)
        window[1] += seconds
        if window[1] >= 1.0:
            metrics.TOKENS_PER_SECOND.labels(name).set(window[0] / window[1])
            self._window[name] = [0, 0.0]

    def _accept(self, rows: list[_Row], logits) -> list[_Row]:
        """Pick each row's next token from its logits, stream its text, and return the rows still running."""
        temps = [r.request.sampling.temperature for r in rows]
        uniforms = [r.random.random() if t > 0 else 0.0 for r, t in zip(rows, temps, strict=True)]
        tokens = choose_tokens(logits, temps, [r.request.sampling.top_p for r in rows], uniforms)
        now = time.perf_counter()
        live = []
        for row, token in zip(rows, tokens, strict=True):
            request = row.request
            if request.first_token is None:
                request.first_token = now
                metrics.TIME_TO_FIRST_TOKEN.labels(request.model.name).observe(now - request.submitted)
            row.tokens += 1
            request.tokens += 1
            self._advance(row, token)
            if row.finish:
                request.rows_left -= 1
                if request.rows_left == 0:
                    self._end(request)
            else:
                row.pending = token
                live.append(row)
        return live

    def _advance(self, row: _Row, token: int) -> None:
        model, sampling = row.request.model, row.request.sampling
        if token in model.eos:
            row.finish = "eos"
        else:
            row.ids.append(token)
            self._decode(row)
            cut = stop_index(row.text, sampling.stop, max(0, row.sent - max(map(len, sampling.stop), default=0)))
            if cut is not None:
                row.text, row.finish = row.text[:cut], "stop"
            elif len(row.ids) >= sampling.max_new_tokens or row.prompt_length + len(row.ids) >= model.decoder.context:
                row.finish = "length"
        if row.finish and row.finish != "stop":
            self._decode(row, final=True)
        text = row.text
        end = len(text) if row.finish else len(text) - held_back(text, sampling.stop)
        if end > row.sent or row.finish:
            row.request.events.put(Chunk(row.prompt_index, row.sample_index, text[row.sent:end], bool(row.finish),
                                         row.finish, row.tokens))
            row.sent = max(row.sent, end)

    def _decode(self, row: _Row, final: bool = False) -> None:
        """Grow `row.text` by the characters its new ids complete, decoding a few ids, not the whole sample.

        The window trick of text-generation-inference: decode ids[a:] and ids[a:b]; the difference is new
        text once it no longer ends in an unfinished character (U+FFFD). Context ids before b keep
        tokenizers that drop a leading space honest. `final` flushes whatever is left.
        """
        decode = row.request.model.tokenizer.decode
        a, b = row.decoded
        before = decode(row.ids[a:b], skip_special_tokens=True, clean_up_tokenization_spaces=False)
        after = decode(row.ids[a:], skip_special_tokens=True, clean_up_tokenization_spaces=False)
        if len(after) > len(before) and (final or not after.endswith("\ufffd")):
            row.text += after[len(before):]
            row.decoded = (b, len(row.ids))

    def _end(self, request: Request) -> None:
        if request.finished:
            return
        request.finished = True
        metrics.IN_FLIGHT.dec()
        if not request.cancelled.is_set():
            metrics.REQUEST_SECONDS.labels(request.model.name).observe(time.perf_counter() - request.submitted)
            metrics.SAMPLES.labels(request.model.name).inc(len(request.prompts) * request.sampling.n)
        metrics.GENERATED_TOKENS.labels(request.model.name).inc(request.tokens)
        request.events.put(None)

    def _fail_all(self, exc: Exception) -> None:
        requests = {row.request.id: row.request for groups in self._groups.values() for g in groups for row in g.rows}
        with self._wake:
            requests.update({w.request.id: w.request for w in self._waiting})
            self._waiting.clear()
        self._groups.clear()
        for request in requests.values():
            if not request.finished:
                request.finished = True
                metrics.IN_FLIGHT.dec()
                request.events.put(exc)
