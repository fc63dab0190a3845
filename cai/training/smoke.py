"""A smoke policy: a tiny causal LM built from a config, with the offline MiniLM tokenizer.

NOT a real model — random weights, a few hundred thousand parameters. It exists so that the
quickstart, the tests and the `hf` teacher path run end to end offline on a CPU. Point
`policy.model` at a real model id or path for real work.
"""

from __future__ import annotations

from pathlib import Path

from cai.core.assets import SMOKE_POLICY, minilm_path

# WordPiece lowercases and splits text; role markers use BERT's unused tokens so they stay atomic.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}[unused0] {% elif m['role'] == 'user' %}[unused1] {% else %}[unused2] {% endif %}"
    "{{ m['content'] }}{% if m['role'] == 'assistant' %} [SEP]{% endif %} "
    "{% endfor %}"
    "{% if add_generation_prompt %}[unused2]{% endif %}"
)


def smoke_tokenizer():
    """The MiniLM WordPiece tokenizer set up to serve a causal LM.

    Changes from the encoder's setup: `[SEP]` is the EOS (distinct from `[PAD]`), no
    `[CLS]`/`[SEP]` are added around every text (a plain post-processor), no token type ids, left
    padding for generation, and a chat template.
    """
    from tokenizers import processors
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path())
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B")
    tok.eos_token = "[SEP]"
    tok.add_tokens(["[unused0]", "[unused1]", "[unused2]"], special_tokens=True)  # in vocab already: no resize
    tok.model_input_names = ["input_ids", "attention_mask"]
    tok.init_kwargs["model_input_names"] = tok.model_input_names  # persist through save_pretrained
    tok.padding_side = "left"
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = 4096  # RAG prompts with five sources run to ~1,500 tokens
    return tok


def build_smoke_policy(out_dir: Path, *, hidden: int = 64, layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    """Write a tiny Llama-architecture causal LM + tokenizer to `out_dir` (idempotent)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    if (out_dir / "config.json").is_file() and (out_dir / "model.safetensors").is_file():
        return out_dir
    tok = smoke_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=4096,
        bos_token_id=tok.cls_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    (out_dir / "README.md").write_text(f"# {SMOKE_POLICY}\n\n{__doc__}")
    return out_dir
