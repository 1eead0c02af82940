"""torchrun, as Debian's python3-torch ships it, made to run on Python 3.11.

torch 1.13's launcher parses --redirects/--tee ("0" by default) by iterating its Std flag enum,
and Python 3.11 no longer yields a flag's zero member when iterating: every torchrun start
fails in to_map with "'NoneType' object has no attribute 'get'". This reads those values with
Std(int) instead and then runs torchrun's own main, unchanged otherwise (same agent, same
environment for the workers). Usage: python3 torchrun.py TORCHRUN-ARGS...
"""
import re
import sys

from torch.distributed.elastic.multiprocessing import api


def _from_str(vm):
    if re.fullmatch(r"[0-3]", vm):
        return api.Std(int(vm))
    return {int(i): api.Std(int(v)) for i, v in (m.split(":") for m in vm.split(","))}


api.Std.from_str = staticmethod(_from_str)

from torch.distributed.run import main  # noqa: E402  (after the fix above)

if __name__ == "__main__":
    sys.argv[0] = "torchrun"
    sys.exit(main())
