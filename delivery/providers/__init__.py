"""Provider adapters: each turns an OutgoingMessage into a provider call and translates the
provider's answer into a SendResult. Nothing outside this package imports a provider SDK,
and nothing inside it knows about models."""
