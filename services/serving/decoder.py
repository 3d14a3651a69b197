"""A Llama-family forward pass with per-group KV caches whose results do not depend on the batch.

The model's own modules (norms, projections, MLP, rotary embedding) do the maths; this file only
arranges them so that a row's logits are bitwise the same whatever else is in the batch:

- every prompt is prefilled alone, and its n samples share that prefill (the cache is copied per row);
- a *group* is rows of one prompt admitted together: they have the same length, so their attention
  runs as one unpadded call, never beside rows of another length (padding changes reduction order);
- the linear layers see a row count rounded up to a multiple of ROW_TILE: CPU GEMM kernels give a row
  different bits for 1-3 rows, or for a row in the remainder of a 5-11 row batch, than for 4, 8, 12+
  rows (measured: tests/unit/test_serving_scheduler.py checks the logits, not this note).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from commentslab.services.common.errors import InputError

ROW_TILE = 4
CACHE_CHUNK = 64  # tokens a group's cache grows by when it fills
SUPPORTED = ("llama", "mistral", "qwen2")


@dataclass
class Prefill:
    """One prompt's prefill: its KV cache (one row) and the logits of its last position."""

    keys: list[torch.Tensor]  # per layer [1, kv_heads, length, head_dim]
    values: list[torch.Tensor]
    logits: torch.Tensor  # [vocab], float32
    length: int


@dataclass
class Group:
    """Rows of one prompt decoded in lockstep: one cache tensor per layer, rows on dim 0."""

    keys: list[torch.Tensor]  # per layer [rows, kv_heads, capacity, head_dim]
    values: list[torch.Tensor]
    length: int  # filled positions, the same for every row
    rows: list = field(default_factory=list)  # the scheduler's row records, in cache order

    def keep(self, index: list[int]) -> None:
        """Drop every row whose position is not in `index` (finished or cancelled rows)."""
        pick = torch.tensor(index, dtype=torch.long, device=self.keys[0].device)
        self.keys = [k.index_select(0, pick) for k in self.keys]
        self.values = [v.index_select(0, pick) for v in self.values]
        self.rows = [self.rows[i] for i in index]


class Decoder:
    """Prefill and batched decode steps for one loaded causal LM of the Llama family."""

    def __init__(self, model):
        config = model.config
        if config.model_type not in SUPPORTED:
            raise InputError(getattr(config, "_name_or_path", "model") or "model",
                             f"architecture {config.model_type!r} is not served by the batched decoder "
                             f"(supported: {', '.join(SUPPORTED)})")
        self.model = model
        self.base = model.model
        self.layers = list(self.base.layers)
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.scale = self.head_dim ** -0.5
        self.context = int(config.max_position_embeddings)
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype

    def _rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # x [tokens, heads, head_dim]; cos/sin [tokens, head_dim]
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos[:, None, :] + rotated * sin[:, None, :]

    def _qkv(self, layer, h: torch.Tensor, cos, sin):
        attn = layer.self_attn
        rows = h.shape[0]
        q = attn.q_proj(h).view(rows, self.heads, self.head_dim)
        k = attn.k_proj(h).view(rows, self.kv_heads, self.head_dim)
        v = attn.v_proj(h).view(rows, self.kv_heads, self.head_dim)
        return self._rotate(q, cos, sin), self._rotate(k, cos, sin), v

    def _rope(self, x: torch.Tensor, positions: torch.Tensor):
        cos, sin = self.base.rotary_emb(x[None], positions[None])
        return cos[0].to(x.dtype), sin[0].to(x.dtype)

    @torch.inference_mode()
    def prefill(self, ids: list[int]) -> Prefill:
        """Run one prompt alone; returns its cache and the logits of its last token."""
        tokens = torch.tensor(ids, dtype=torch.long, device=self.device)
        x = self.base.embed_tokens(tokens)  # [length, hidden]
        cos, sin = self._rope(x, torch.arange(len(ids), device=self.device))
        keys, values = [], []
        for layer in self.layers:
            q, k, v = self._qkv(layer, layer.input_layernorm(x), cos, sin)
            k, v = k.transpose(0, 1)[None], v.transpose(0, 1)[None]  # [1, kv_heads, length, head_dim]
            keys.append(k)
            values.append(v)
            out = F.scaled_dot_product_attention(q.transpose(0, 1)[None], k, v, is_causal=True, scale=self.scale,
                                                 enable_gqa=self.kv_heads != self.heads)
            x = x + layer.self_attn.o_proj(out[0].transpose(0, 1).reshape(len(ids), -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        last = self.base.norm(x[-1:].expand(ROW_TILE, -1))  # the same row count as a decode step
        logits = self.model.lm_head(last)[0].float()
        return Prefill(keys, values, logits, len(ids))

    def group(self, prefill: Prefill, rows: list, room: int) -> Group:
        """A group of `len(rows)` rows starting from `prefill`, with cache room for `room` more tokens."""
        capacity = prefill.length + min(room, CACHE_CHUNK)
        n = len(rows)

        def expand(t: torch.Tensor) -> torch.Tensor:
            out = t.new_empty((n, t.shape[1], capacity, t.shape[3]))
            out[:, :, : prefill.length] = t
            return out

        return Group([expand(k) for k in prefill.keys], [expand(v) for v in prefill.values], prefill.length,
                     list(rows))

    def _grow(self, group: Group) -> None:
        if group.length < group.keys[0].shape[2]:
            return

        def bigger(t: torch.Tensor) -> torch.Tensor:
            extra = t.new_empty((t.shape[0], t.shape[1], CACHE_CHUNK, t.shape[3]))
            return torch.cat((t, extra), dim=2)

        group.keys = [bigger(k) for k in group.keys]
        group.values = [bigger(v) for v in group.values]

    def _attend(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        # Plain matmuls, not scaled_dot_product_attention: SDPA gives row 0 of a 2+ row call other bits
        # than the same row alone (measured); batched matmuls do not. q [rows, heads, head_dim].
        rows = q.shape[0]
        q = q.view(rows, self.kv_heads, self.heads // self.kv_heads, self.head_dim)
        # Softmax in float32 whatever the model's dtype, as the models' own eager attention does.
        weights = torch.softmax((q @ keys.transpose(-1, -2)) * self.scale, dim=-1, dtype=torch.float32)
        return (weights.to(q.dtype) @ values).view(rows, self.heads, self.head_dim)

    @torch.inference_mode()
    def step(self, groups: list[Group], tokens: list[int]) -> torch.Tensor:
        """Feed one token per row (rows in group order) at each group's next position; returns [rows, vocab].

        Every group's length grows by one.
        """
        count = len(tokens)
        padded = -(-count // ROW_TILE) * ROW_TILE
        spans, start, positions = [], 0, []
        for g in groups:
            self._grow(g)
            spans.append((g, start, start + len(g.rows)))
            start += len(g.rows)
            positions += [g.length] * len(g.rows)
        # One host-to-device copy for ids and positions; padding rows are token 0 at position 0.
        both = torch.tensor([tokens + [0] * (padded - count), positions + [0] * (padded - count)], dtype=torch.long)
        ids, positions = both.to(self.device, non_blocking=True)
        x = self.base.embed_tokens(ids)  # [padded, hidden]
        cos, sin = self._rope(x, positions)
        for i, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, layer.input_layernorm(x), cos, sin)
            out = torch.zeros_like(q)
            for g, a, b in spans:
                g.keys[i][:, :, g.length] = k[a:b]
                g.values[i][:, :, g.length] = v[a:b]
                out[a:b] = self._attend(q[a:b], g.keys[i][:, :, : g.length + 1], g.values[i][:, :, : g.length + 1])
            x = x + layer.self_attn.o_proj(out.reshape(padded, -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        for g in groups:
            g.length += 1
        return self.model.lm_head(self.base.norm(x))[:count].float()
