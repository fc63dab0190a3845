"""Chat calls to a local transformers causal LM, batched across concurrent callers.

Concurrent `chat()` calls are queued and served in batches (left padding, the model's chat
template, greedy or sampled decoding), so a teacher loop with `max_concurrency > 1` fills a batch
without any caller knowing about batching. Generation runs in a worker thread to keep the event
loop responsive. Structured replies are parsed from text (no constrained decoding) with one
repair turn, as for servers without JSON-schema support.

`teacher.model` may be a built-in name (`smollm2-135m`): it loads through
`cai.core.builtin_models.resolve_model` like every other consumer of a model name; `model_record`
is what a run manifest records about it (its sha256 for a built-in). Generation keeps the KV cache
on and runs on torch's current thread count (never changed here).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from cai.core.builtin_models import resolve_model
from cai.core.configs import TeacherConfig
from cai.core.errors import UserError
from cai.llm.cache import CallCache
from cai.llm.chat import (
    ChatReply,
    TeacherCallFailed,
    Usage,
    cached_reply,
    extract_json,
    request_key,
)

BATCH_WAIT_S = 0.01  # how long the first request in a batch waits for company


@dataclass
class _Pending:
    messages: list[dict]
    max_tokens: int
    future: asyncio.Future


class HFChat:
    """Async chat over a local HF model; `chat()` has the same contract as `OpenAIChat.chat`."""

    backend = "hf"

    def __init__(self, cfg: TeacherConfig, cache: CallCache | None = None, *, batch_size: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.cfg = cfg
        self.cache = cache
        self.usage = Usage()
        self.model = cfg.model
        self.batch_size = batch_size or cfg.max_concurrency
        try:
            resolved = resolve_model(cfg.model)
        except UserError as e:
            raise UserError(f"teacher.model: {e}") from None
        self.model_record = resolved.manifest()
        self.tokenizer = AutoTokenizer.from_pretrained(resolved.path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        self.lm = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dtype).to(device).eval()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task | None = None

    async def chat(self, messages: list[dict], *, response_model: type[BaseModel] | None = None,
                   max_tokens: int | None = None) -> ChatReply:
        key, params = request_key(self.backend, self.model, messages, self.cfg.temperature,
                                  max_tokens or self.cfg.max_tokens, response_model)
        if (hit := cached_reply(self.cache, key, self.usage)) is not None:
            return hit
        convo, last = list(messages), ""
        for attempts in range(1, 3):  # noqa: B007 — the call and one repair turn; read after the loop
            text = await self._generate(convo, params["max_tokens"])
            try:
                parsed = (None if response_model is None
                          else response_model.model_validate(extract_json(text)).model_dump(mode="json"))
                break
            except (ValueError, ValidationError) as e:
                last = " ".join(str(e).split())[:200]
                repair = f"That reply was not valid: {last}. Reply with only the JSON object."
                convo = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": repair}]
        else:
            self.usage.failures += 1
            raise TeacherCallFailed(f"{self.model}: unparseable output after a repair turn: {last}")
        if self.cache is not None:
            self.cache.put(key, backend=self.backend, model=self.model,
                           request={"messages": messages, "params": params}, response={"text": text, "parsed": parsed})
        return ChatReply(text=text, parsed=parsed, call_id=key, attempts=attempts)

    async def _generate(self, messages: list[dict], max_tokens: int) -> str:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._serve())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(messages, max_tokens, future))
        return await future

    async def _serve(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(BATCH_WAIT_S)
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                texts = await asyncio.to_thread(self._generate_batch, batch)
                for p, t in zip(batch, texts, strict=True):
                    p.future.set_result(t)
            except Exception as e:  # noqa: BLE001 — hand the failure to every waiting caller
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(TeacherCallFailed(f"{self.model}: generation failed: {e}"))

    def _generate_batch(self, batch: list[_Pending]) -> list[str]:
        """Batched generation. input_ids: (B, T) left-padded; output: (B, T + new)."""
        import torch

        template = self.tokenizer.apply_chat_template
        prompts = [template(p.messages, add_generation_prompt=True, tokenize=False) for p in batch]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.lm.device)
        sample = self.cfg.temperature > 0
        with torch.no_grad():
            out = self.lm.generate(**enc, max_new_tokens=max(p.max_tokens for p in batch), do_sample=sample,
                                   temperature=self.cfg.temperature if sample else None, top_p=None, top_k=None,
                                   use_cache=True, pad_token_id=self.tokenizer.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        self.usage.calls += len(batch)
        self.usage.prompt_tokens += int(enc["attention_mask"].sum())
        self.usage.completion_tokens += int((new != self.tokenizer.pad_token_id).sum())
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
