"""The built-in evaluation protocols, one module each (zeroshot, probe, few_shot, robustness,
retrieval, association, caption_selection, multilabel).

They implement :class:`bench.engine.protocol.Protocol` and are registered by name from :data:`BUILTIN`
(read by :data:`bench.engine.protocol_registry.PROTOCOLS` on first use; adding one is a module and a line
here); a third-party protocol registers through the ``zsbench.protocols`` entry-point group instead. The
names below are re-exported for plug-in authors.
"""
from bench.engine.protocol import Column, Outcome, Protocol, Unit
from bench.engine.protocol_registry import PROTOCOLS, get_protocol, protocol_names, protocols_for, register_protocol

#: the built-in protocols, in the order they are listed: (name, "module:Class"), imported on use
BUILTIN = (("zeroshot", "bench.protocols.zeroshot:ZeroShot"),
           ("linear-probe", "bench.protocols.probe:LinearProbe"),
           ("few-shot", "bench.protocols.few_shot:FewShot"),
           ("robustness", "bench.protocols.robustness:Robustness"),
           ("retrieval", "bench.protocols.retrieval:Retrieval"),
           ("association", "bench.protocols.association:Association"),
           ("caption-selection", "bench.protocols.caption_selection:CaptionSelection"),
           ("multilabel", "bench.protocols.multilabel:Multilabel"))

__all__ = ["BUILTIN", "PROTOCOLS", "Column", "Outcome", "Protocol", "Unit", "get_protocol", "protocol_names",
           "protocols_for",
           "register_protocol"]
