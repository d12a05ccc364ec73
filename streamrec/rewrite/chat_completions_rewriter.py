"""The small-LLM tier: any OpenAI-compatible chat-completions server (vLLM in
production, llama.cpp's ``llama-server`` locally), through the ``openai`` SDK.

The SDK is an optional extra (``pip install streamrec[llm]``) imported here only, so a
deployment without LLM tiers never loads it. Retries are off: the cascade has a hard
timeout per tier and falls through instead of waiting.
"""

from __future__ import annotations

from streamrec.rewrite.rewrite_prompt import parse_answer, system_prompt
from streamrec.rewrite.rewrite_tier import Proposal, RewriteContext, TierName


class ChatCompletionsRewriter:
    name: TierName = "small_llm"

    def __init__(self, base_url: str, model: str, api_key: str | None, timeout_s: float,
                 max_output_tokens: int = 32, catalog: str = "a product catalog") -> None:
        from openai import AsyncOpenAI  # optional dependency: only when the tier is on

        # llama.cpp and vLLM accept any key unless started with one; the SDK needs some
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key or "none",
                                   timeout=timeout_s, max_retries=0)
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.catalog = catalog

    def prompt(self, query: str, context: RewriteContext) -> str:
        return system_prompt(self.catalog, context.reasons, context.category)

    async def propose(self, query: str, context: RewriteContext) -> Proposal:
        response = await self._client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": self.prompt(query, context)},
                      {"role": "user", "content": query}],
            max_tokens=self.max_output_tokens, temperature=0.0)
        usage = response.usage
        text = response.choices[0].message.content if response.choices else None
        return Proposal(parse_answer(text), response.model or self.model,
                        usage.prompt_tokens if usage else 0,
                        usage.completion_tokens if usage else 0)

    async def aclose(self) -> None:
        await self._client.close()
