"""Critics for PPO: V(s_t) for every response position, without a second copy of the policy's model.

PPO's critic ([PPO] Schulman et al. 2017; for RLHF, Ouyang et al. 2022 §3.5 and Huang et al. 2024,
"The N+ Implementation Details of RLHF with PPO") is usually a full copy of the policy with a scalar
head, trained in full: a second backbone, its gradients and its AdamW moments (≈ 16 bytes a parameter
in fp32). Here, by default, the critic is a second LoRA adapter ([LoRA] Hu et al. 2021, eq. (3):
W x + (α/r)·B A x, B zero-initialised) on the policy's own frozen base weights, plus a scalar head:

    V(s) = w · h_L(s) + b,   h_L = the base model's final hidden state with the critic's LoRA deltas
                             added to the outputs of the layers the policy's adapter targets

with the policy's adapter switched off during the critic's pass. One backbone is in memory for the
policy, the reference (the adapter-disabled base) and the critic; the critic trains only its LoRA
factors and head. Its LoRA deltas are forward hooks on the frozen base layers (not a second peft
adapter), so the critic is a module of its own: its parameters, optimiser, DDP wrapper and checkpoint
file stay separate from the policy's, and the policy's adapter, export and peft state are untouched.

`ValueModel` keeps the full-model critic, for a separate (smaller) critic backbone (`critic_model`).
Both zero-initialise the head, so the first values are 0 and the first advantages are the plain
returns (no random critic noise). Activation checkpointing (`enable_checkpointing`) recomputes each
decoder layer in the backward instead of keeping its activations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from cai.training.logprobs import causal_lm


@contextlib.contextmanager
def adapters_off(model: torch.nn.Module) -> Iterator[None]:
    """Run `model`'s frozen base: every peft adapter layer (and `modules_to_save` copy) skipped.

    Unlike peft's `disable_adapter()`, this flips only the layers' disabled flag: it leaves
    `requires_grad` alone (peft resets it, which must not happen between a forward and its backward)
    and nests (each layer's previous flag is restored on exit)."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer | AuxiliaryTrainingWrapper)]
    before = [m._disable_adapters for m in layers]
    for m in layers:
        m._disable_adapters = True
    try:
        yield
    finally:
        for m, was in zip(layers, before, strict=True):
            m._disable_adapters = was


def _zero_head(hidden_size: int) -> torch.nn.Linear:
    head = torch.nn.Linear(hidden_size, 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return head


def _values(head: torch.nn.Linear, hidden: torch.Tensor) -> torch.Tensor:
    """(B, L, H) hidden states -> (B, L) values, the head in fp32 even under autocast (values feed GAE
    and the value loss; a bf16 head would round them to ~3 significant digits)."""
    with torch.autocast(hidden.device.type, enabled=False):
        return head(hidden.float()).squeeze(-1)


class LoraCritic(torch.nn.Module):
    """V(s) from the policy's frozen base + a second LoRA adapter + a scalar head (module docstring).

    `policy`: the PeftModel whose base it shares (held by reference, not registered: its weights are
    neither this module's parameters nor in its state dict). The critic's adapter has rank r and
    scale alpha / r and targets every linear layer the policy's adapter targets. Parameters are fp32
    (A: kaiming-uniform as in peft, B: zeros); their matmuls follow autocast."""

    def __init__(self, policy: torch.nn.Module, r: int, alpha: float):
        from peft.tuners.lora import LoraLayer

        super().__init__()
        self._shared = (policy,)  # a tuple: not a submodule
        self.scaling = alpha / r
        self._targets: dict[str, torch.nn.Module] = {}
        self.lora_A, self.lora_B = torch.nn.ModuleDict(), torch.nn.ModuleDict()
        decoder = causal_lm(policy).get_decoder()
        for name, module in decoder.named_modules():
            if isinstance(module, LoraLayer) and isinstance(module.get_base_layer(), torch.nn.Linear):
                key = name.replace(".", "__")
                self._targets[key] = module.get_base_layer()
                self.lora_A[key] = torch.nn.Linear(module.in_features, r, bias=False)
                self.lora_B[key] = torch.nn.Linear(r, module.out_features, bias=False)
                torch.nn.init.zeros_(self.lora_B[key].weight)
        if not self._targets:
            raise ValueError("the policy has no LoRA linear layers for the critic's adapter to mirror")
        self.head = _zero_head(causal_lm(policy).config.hidden_size)
        self._depth = 0

    @property
    def backbone(self) -> torch.nn.Module:
        """The decoder whose frozen weights this critic shares with the policy (not a submodule)."""
        return causal_lm(self._shared[0]).get_decoder()

    def _delta_hook(self, key: str):
        a, b = self.lora_A[key], self.lora_B[key]

        def hook(_module, args, out):
            x = args[0]
            if not torch.is_autocast_enabled(x.device.type):
                x = x.to(a.weight.dtype)
            return out + (b(a(x)) * self.scaling).to(out.dtype)
        return hook

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """The critic's view of the shared base: the policy's adapter off, the critic's deltas on.
        `forward` enters it itself; a backward through activation-checkpointed layers recomputes them,
        so that backward must run inside it too (nesting is fine)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        hooks = [m.register_forward_hook(self._delta_hook(k)) for k, m in self._targets.items()]
        self._depth = 1
        try:
            with adapters_off(self._shared[0]):
                yield
        finally:
            self._depth = 0
            for h in hooks:
                h.remove()

    def forward(self, input_ids, attention_mask, position_ids) -> torch.Tensor:
        """(B, L) ids -> (B, L) fp32 values V(s) at every position."""
        with self.active():
            hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                   use_cache=False).last_hidden_state
        return _values(self.head, hidden)


class ValueModel(torch.nn.Module):
    """Full-model critic: a transformer backbone (no LM head), trained in full, and a scalar head."""

    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone
        # FSDP's transformer auto-wrap looks for the layer classes here (as on HF models).
        self._no_split_modules = getattr(backbone, "_no_split_modules", None)
        self.head = _zero_head(backbone.config.hidden_size)

    def forward(self, input_ids, attention_mask, position_ids) -> torch.Tensor:
        """(B, L) ids -> (B, L) fp32 values V(s) at every position."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                               position_ids=position_ids).last_hidden_state
        return _values(self.head, hidden)


def build_critic(policy: torch.nn.Module, critic_model: str | None, r: int, alpha: float) -> torch.nn.Module:
    """The default LoRA critic on `policy`'s base, or a ValueModel on `critic_model` (HF id or path),
    its weights in fp32 (they are trained: master weights, as the LoRA factors)."""
    if critic_model:
        from transformers import AutoModel

        return ValueModel(AutoModel.from_pretrained(critic_model, dtype=torch.float32))
    return LoraCritic(policy, r, alpha)


def critic_scope(critic: torch.nn.Module):
    """The context a critic's backward must run in (LoraCritic.active), or a no-op for other critics."""
    from accelerate.utils import extract_model_from_parallel

    inner = extract_model_from_parallel(critic)
    return inner.active() if isinstance(inner, LoraCritic) else contextlib.nullcontext()


def enable_checkpointing(lm: torch.nn.Module) -> None:
    """Activation checkpointing on every decoder layer of the transformers model `lm` (non-reentrant:
    frozen inputs need no grad). transformers checkpoints a layer only when the layer is in training
    mode and gradients are on; only the layers' own flag is set, so their submodules (dropout) stay in
    eval mode, and no-grad passes (generation, scoring) keep their KV cache."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    kwargs = {"use_reentrant": False}
    if hasattr(lm, "activation_checkpointing_enable"):  # transformers >= 5.2x; the old name warns there
        lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    for m in lm.modules():
        if isinstance(m, GradientCheckpointingLayer):
            m.training = True
