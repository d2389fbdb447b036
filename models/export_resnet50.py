"""Export torchvision's ImageNet ResNet-50 as a pooled-feature ONNX model photosim can use.

For people who have PyTorch and torchvision but cannot (or prefer not to) download the ONNX
model zoo's file. The network is cut before its classifier, so the ONNX output is the 2048-d
global-average-pooled feature vector, with a dynamic batch axis. A spec JSON is written beside
it, so that::

    python models/export_resnet50.py --out resnet50-torchvision.onnx
    photosim models add resnet50-torchvision.onnx            # reads resnet50-torchvision.json

Its vectors differ from the zoo model's, so it has its own model id and never mixes with them.
torch is imported inside ``main`` so that importing this file costs nothing.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

MODEL_ID = "resnet50-torchvision"
FEATURES = "embedding"
OPSET = 17
DIM = 2048


def spec_for(weights_name: str) -> dict[str, Any]:
    """The photosim spec of the exported file: torchvision's preprocessing, pooled output."""
    return {
        "id": MODEL_ID,
        "name": f"ResNet-50 (torchvision {weights_name}) features",
        "description": "Exported with models/export_resnet50.py; 2048-d pooled features.",
        "dim": DIM,
        "variant": "fp32",
        "licence": "BSD-3-Clause (torchvision weights)",
        "input_name": "input",
        "output": FEATURES,
        "preprocess": {
            "size": 224, "resize_shorter": 256 if weights_name.endswith("V1") else 232,
            "interpolation": "bilinear", "layout": "NCHW",
            "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375],
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("resnet50-torchvision.onnx"),
                        help="the ONNX file to write; the spec goes beside it as .json")
    parser.add_argument("--weights", default="IMAGENET1K_V2", choices=("IMAGENET1K_V1",
                                                                       "IMAGENET1K_V2"),
                        help="torchvision weights (V2 is more accurate; V1 matches the zoo)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import torch
        from torchvision.models import ResNet50_Weights, resnet50
    except ImportError as exc:
        print(f"This script needs PyTorch and torchvision ({exc}).", file=sys.stderr)
        return 2

    weights = getattr(ResNet50_Weights, args.weights)
    network = resnet50(weights=weights)
    network.fc = torch.nn.Identity()  # avgpool -> flatten -> (no classifier): [N, 2048]
    network.eval()
    example = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        dim = int(network(example).shape[1])
        if dim != DIM:
            raise SystemExit(f"unexpected feature size {dim}")
        torch.onnx.export(
            network, (example,), str(args.out), input_names=["input"], output_names=[FEATURES],
            dynamic_axes={"input": {0: "N"}, FEATURES: {0: "N"}}, opset_version=OPSET,
            do_constant_folding=True, **_classic_exporter(torch),
        )
    spec = spec_for(args.weights)
    args.out.with_suffix(".json").write_text(json.dumps(spec, indent=2) + "\n",
                                             encoding="utf-8")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}; now run "
          f"`photosim models add {args.out}`")
    return 0


def _classic_exporter(torch: Any) -> dict[str, Any]:
    """Newer torch defaults to the dynamo exporter; the TorchScript one handles dynamic_axes
    for this plain CNN reliably on every version, so ask for it where the switch exists."""
    params = inspect.signature(torch.onnx.export).parameters
    return {"dynamo": False} if "dynamo" in params else {}


if __name__ == "__main__":
    sys.exit(main())
