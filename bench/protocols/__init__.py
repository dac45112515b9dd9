"""The built-in evaluation protocols, one module each (zeroshot, probe, few_shot, robustness,
retrieval, association).

They implement :class:`bench.engine.protocol.Protocol` and are registered by name in
:data:`bench.engine.protocol_registry.PROTOCOLS`, where the runner finds them; a third-party
protocol registers through the ``zsbench.protocols`` entry-point group instead. The names below
are re-exported for plug-in authors.
"""
from bench.engine.protocol import Column, Outcome, Protocol, Unit
from bench.engine.protocol_registry import PROTOCOLS, get_protocol, protocol_names, protocols_for, register_protocol

__all__ = ["PROTOCOLS", "Column", "Outcome", "Protocol", "Unit", "get_protocol", "protocol_names", "protocols_for",
           "register_protocol"]
