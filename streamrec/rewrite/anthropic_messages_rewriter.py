"""The large-LLM tier: Claude through the ``anthropic`` SDK (Messages API), for the
hardest queries only (the router decides which).

Optional extra like the small tier; retries off, the cascade's timeout governs.
"""

from __future__ import annotations

from streamrec.rewrite.rewrite_prompt import parse_answer, system_prompt
from streamrec.rewrite.rewrite_tier import Proposal, RewriteContext, TierName


class AnthropicMessagesRewriter:
    name: TierName = "large_llm"

    def __init__(self, model: str, api_key: str, timeout_s: float,
                 base_url: str | None = None, max_output_tokens: int = 32,
                 catalog: str = "a product catalog") -> None:
        from anthropic import AsyncAnthropic  # optional dependency: only when the tier is on

        self._client = AsyncAnthropic(api_key=api_key, base_url=base_url, timeout=timeout_s,
                                      max_retries=0)
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.catalog = catalog

    def prompt(self, query: str, context: RewriteContext) -> str:
        return system_prompt(self.catalog, context.reasons, context.category)

    async def propose(self, query: str, context: RewriteContext) -> Proposal:
        message = await self._client.messages.create(
            model=self.model, max_tokens=self.max_output_tokens,
            system=self.prompt(query, context),
            messages=[{"role": "user", "content": query}])
        text = "".join(getattr(block, "text", "") for block in message.content
                       if getattr(block, "type", "") == "text")
        usage = message.usage
        return Proposal(parse_answer(text), message.model or self.model,
                        usage.input_tokens if usage else 0,
                        usage.output_tokens if usage else 0)

    async def aclose(self) -> None:
        await self._client.close()
