# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cluster-proportional-autoscaler (CPA) v1.9.0 ladder/linear semantics, plus a stricter write validator.

AKS scales konnectivity-agent with a CPA v1.9.0 build that reads the ConfigMap
``kube-system/konnectivity-agent-autoscaler``. This engine predicts what that CPA
does with whatever is in the ConfigMap (including its quirks: Go ``encoding/json``
decoding, ``sort.Sort`` ordering, int32 truncation), and separately decides whether
a ladder is safe for us to write.

Pure standard library: imported by modules, filters and the lab's Kubernetes API
emulator alike.

Public API (see each docstring):
  parse_configmap_data(data) -> ScalerParams(mode, params)
  decode_ladder_json(text) -> dict          (CPA parseParams: decoded, validated, not sorted)
  go_sort_entries(entries) -> list          (Go sort.Sort order, as CPA sorts)
  parse_ladder(value) -> dict               (CPA SyncConfig: decoded, validated, sorted)
  parse_linear(value) -> dict
  entries_replicas(count, entries) -> int   (one list lookup)
  ladder_replicas(params, nodes, cores, schedulable_nodes=None, schedulable_cores=None) -> int
  linear_replicas(params, nodes, cores, schedulable_nodes=None, schedulable_cores=None) -> int
  compute_replicas(data_or_params, nodes, cores, schedulable_nodes=None, schedulable_cores=None) -> int
  parse_cpu_quantity(text) -> Fraction
  sum_allocatable_cores(quantities) -> int
  cluster_status(nodes, node_labels=None, require_ready=False) -> dict
  validate_ladder_for_write(ladder) -> (errors, warnings)
  render_ladder(ladder) -> str
  ladders_equal(a, b) -> bool
  ladder_steps(entries) -> list of dicts
  aks_doc_example_ladder() -> dict
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from typing import NamedTuple

LADDER_MODE = 'ladder'
LINEAR_MODE = 'linear'
SUPPORTED_MODES = (LADDER_MODE, LINEAR_MODE)

AKS_CONFIGMAP_NAMESPACE = 'kube-system'
AKS_CONFIGMAP_NAME = 'konnectivity-agent-autoscaler'
AKS_LADDER_DATA_KEY = LADDER_MODE

# The example ladder in Microsoft's tunnel troubleshooting article ("Cause 6").
# It is only the documented example, not a verified production default: always
# read the live ConfigMap. Do not mutate; aks_doc_example_ladder() returns a copy.
AKS_DOC_EXAMPLE_LADDER = {
    'nodesToReplicas': [[1, 2], [100, 3], [250, 4], [500, 5], [1000, 6], [5000, 10]],
}

CORES_KEY = 'coresToReplicas'
NODES_KEY = 'nodesToReplicas'
INCLUDE_UNSCHEDULABLE_KEY = 'includeUnschedulableNodes'
LADDER_KEYS = (CORES_KEY, NODES_KEY, INCLUDE_UNSCHEDULABLE_KEY)
LINEAR_KEYS = ('coresPerReplica', 'nodesPerReplica', 'min', 'max', 'preventSinglePointFailure', INCLUDE_UNSCHEDULABLE_KEY)

# Minimum replicas our validator wants at every cluster size for high availability.
HA_MIN_REPLICAS = 2

INT32_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63

_LADDER_GO_TYPE = 'laddercontroller.ladderParams'
_LINEAR_GO_TYPE = 'linearcontroller.linearParams'
_ENTRIES_GO_TYPE = 'laddercontroller.paramEntries'
_ENTRY_GO_TYPE = 'laddercontroller.paramEntry'


class LadderError(ValueError):
    """CPA would refuse this ConfigMap/ladder, or the input is unusable.

    ``cpa_message`` is the text CPA v1.9.0 itself would log (as close as we can
    reproduce it) or None when the error is ours (bad counts, bad types);
    ``str(err)`` adds a hint on how to fix it.
    """

    def __init__(self, message, hint=None, cpa_message=None):
        self.message = message
        self.hint = hint
        self.cpa_message = cpa_message
        super().__init__(message if not hint else '%s. %s' % (message, hint))


class QuantityError(LadderError):
    """A Kubernetes CPU quantity that Kubernetes would not parse."""


class ScalerParams(NamedTuple):
    """Parsed ConfigMap: ``mode`` is 'ladder' or 'linear'; ``params`` as parse_ladder/parse_linear return."""

    mode: str
    params: dict


# ---------------------------------------------------------------------------
# Go integer conversions (CPA runs on amd64)
# ---------------------------------------------------------------------------

def _go_int32(value):
    """Go's int32(x): keep the low 32 bits, two's complement."""
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value >= 0x80000000 else value


def _go_float_to_int(value):
    """Go's int(f) on amd64: truncation; NaN/Inf/out of range give the 'integer indefinite' value."""
    if not math.isfinite(value) or value >= 2.0 ** 63 or value < -(2.0 ** 63):
        return INT64_MIN
    return int(value)


# ---------------------------------------------------------------------------
# JSON decoding with Go encoding/json (Go 1.19) semantics for CPA's structs
# ---------------------------------------------------------------------------

class _Num(str):
    """A JSON number, kept as its literal text (Go converts per target type)."""


class _Obj(list):
    """A JSON object as ordered (key, value) pairs, duplicates kept."""


def _reject_constant(name):
    """NaN/Infinity are not JSON (Python accepts them, Go does not)."""
    if name.startswith('-'):
        raise ValueError("invalid character '%s' in numeric literal" % name[1])
    raise ValueError("invalid character '%s' looking for beginning of value" % name[0])


_DECODER = json.JSONDecoder(object_pairs_hook=_Obj, parse_int=_Num, parse_float=_Num, parse_constant=_reject_constant)


def _load_json_tree(text):
    """Parse JSON text keeping number literals and duplicate keys; raise ValueError with a Go-like message."""
    if text.strip(' \t\r\n') == '':
        raise ValueError('unexpected end of JSON input')
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError('exceeded max depth') from None
    except json.JSONDecodeError as exc:
        raise ValueError('invalid JSON: %s' % exc) from None


def _go_kind(node):
    """The word Go's UnmarshalTypeError uses for a JSON value."""
    if isinstance(node, _Obj):
        return 'object'
    if isinstance(node, list):
        return 'array'
    if isinstance(node, bool):
        return 'bool'
    if isinstance(node, _Num):
        return 'number'
    return 'string'


def _fold_key(key):
    """Go's case-insensitive field match: ASCII case folding plus the two Unicode letters that fold to ASCII."""
    out = []
    for char in key:
        if 'A' <= char <= 'Z':
            out.append(chr(ord(char) + 32))
        elif char == '\u017f':  # LATIN SMALL LETTER LONG S folds to 's'
            out.append('s')
        elif char == '\u212a':  # KELVIN SIGN folds to 'k'
            out.append('k')
        else:
            out.append(char)
    return ''.join(out)


def _match_field(key, fields):
    """Go picks the exact field name first, then a case-insensitive match; None for unknown keys."""
    if key in fields:
        return key
    folded = _fold_key(key)
    for field in fields:
        if field.lower() == folded:
            return field
    return None


_GO_INT_RE = re.compile(r'-?[0-9]+\Z')


class _GoDecoder:
    """Decode a parsed JSON tree into one of CPA's param structs, keeping Go's first type error."""

    def __init__(self, struct_name):
        self.struct_name = struct_name
        self.error = None

    def type_error(self, value, go_type, field):
        if self.error is None:
            self.error = 'json: cannot unmarshal %s into Go struct field %s.%s of type %s' % (value, self.struct_name, field, go_type)

    def go_int(self, node, field, current):
        """Decode into a Go int (64-bit); null leaves the current value."""
        if node is None:
            return current
        if isinstance(node, _Num):
            if len(node) <= 20 and _GO_INT_RE.match(node):
                number = int(node)
                if INT64_MIN <= number <= INT64_MAX:
                    return number
            self.type_error('number ' + node, 'int', field)
            return current
        self.type_error(_go_kind(node), 'int', field)
        return current

    def go_float(self, node, field, current):
        """Decode into a Go float64; null leaves the current value."""
        if node is None:
            return current
        if isinstance(node, _Num):
            number = float(node)
            if math.isinf(number):
                self.type_error('number ' + node, 'float64', field)
                return current
            return number
        self.type_error(_go_kind(node), 'float64', field)
        return current

    def go_bool(self, node, field, current):
        if node is None:
            return current
        if isinstance(node, bool):
            return node
        self.type_error(_go_kind(node), 'bool', field)
        return current

    def go_entry(self, node, field, entry):
        """Decode into a [2]int in place: extra numbers are skipped unchecked, missing ones zeroed, null keeps."""
        if node is None:
            return
        if not isinstance(node, list) or isinstance(node, _Obj):
            self.type_error(_go_kind(node), _ENTRY_GO_TYPE, field)
            return
        for index in range(2):
            if index < len(node):
                entry[index] = self.go_int(node[index], field, entry[index])
            else:
                entry[index] = 0

    def go_entries(self, node, field, state):
        """Decode into a Go slice of [2]int.

        ``state`` is [backing, length]: Go reuses the slice's backing array when a
        key repeats, so a null inside a later duplicate keeps the earlier value.
        """
        if node is None:
            state[0], state[1] = [], 0
            return
        if not isinstance(node, list) or isinstance(node, _Obj):
            self.type_error(_go_kind(node), _ENTRIES_GO_TYPE, field)
            return
        if not node:
            state[0], state[1] = [], 0
            return
        backing, length = state
        for index, item in enumerate(node):
            if index >= len(backing):
                new_cap = max(4, len(backing) + len(backing) // 2)
                backing = [list(entry) for entry in backing[:length]] + [[0, 0] for _ignored in range(new_cap - length)]
            if index >= length:
                length = index + 1
            self.go_entry(item, field, backing[index])
        if len(node) < length:
            length = len(node)
        state[0], state[1] = backing, length


def _json_text(value, what):
    """ConfigMap values are strings; a mapping (e.g. from YAML) is accepted and serialized first."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise LadderError('the %s value cannot be serialized to JSON: %s' % (what, exc),
                              'Use only strings, integers, lists, mappings and booleans') from None
    raise LadderError('the %s value must be a JSON string or a mapping, got %s' % (what, type(value).__name__),
                      'Pass the ConfigMap data value (a JSON document) or the equivalent mapping')


_FIX_HINTS = {
    LADDER_MODE: 'Fix the ladder JSON: an object with coresToReplicas and/or nodesToReplicas, each a list of '
                 '[threshold, replicas] pairs of non-negative integers, and an optional boolean includeUnschedulableNodes',
    LINEAR_MODE: 'Fix the linear JSON: numbers coresPerReplica/nodesPerReplica (at least one above 0), integers min/max '
                 '(max 0 or >= min), booleans preventSinglePointFailure/includeUnschedulableNodes',
}


def _cpa_parse_error(mode, detail):
    cpa = 'Error syncing configMap with controller: error parsing %s params: %s' % (mode, detail)
    return LadderError(cpa, '%s; until then CPA keeps the target at its current replica count' % _FIX_HINTS[mode], cpa)


def decode_ladder_json(value):
    """CPA's ladder ``parseParams``: Go-decode and check negatives; lists stay in input order.

    Returns {'coresToReplicas': [[t, r], ...], 'nodesToReplicas': [...], 'includeUnschedulableNodes': bool}.
    Raises LadderError when CPA would refuse the document.
    """
    text = _json_text(value, LADDER_MODE)
    try:
        tree = _load_json_tree(text)
    except ValueError as exc:
        raise _cpa_parse_error(LADDER_MODE, 'could not parse parameters (%s)' % exc) from None
    decoder = _GoDecoder('ladderParams')
    cores, nodes = [[], 0], [[], 0]
    include_unschedulable = False
    if tree is not None:
        if not isinstance(tree, _Obj):
            raise _cpa_parse_error(LADDER_MODE, 'could not parse parameters (json: cannot unmarshal %s into Go value of type %s)'
                                   % (_go_kind(tree), _LADDER_GO_TYPE))
        for key, node in tree:
            field = _match_field(key, LADDER_KEYS)
            if field == CORES_KEY:
                decoder.go_entries(node, field, cores)
            elif field == NODES_KEY:
                decoder.go_entries(node, field, nodes)
            elif field == INCLUDE_UNSCHEDULABLE_KEY:
                include_unschedulable = decoder.go_bool(node, field, include_unschedulable)
    if decoder.error:
        raise _cpa_parse_error(LADDER_MODE, 'could not parse parameters (%s)' % decoder.error)
    params = {
        CORES_KEY: [list(entry) for entry in cores[0][:cores[1]]],
        NODES_KEY: [list(entry) for entry in nodes[0][:nodes[1]]],
        INCLUDE_UNSCHEDULABLE_KEY: include_unschedulable,
    }
    for key, map_name in ((CORES_KEY, 'cores_to_replicas_map'), (NODES_KEY, 'nodes_to_replicas_map')):
        for threshold, replicas in params[key]:
            if threshold < 0 or replicas < 0:
                raise _cpa_parse_error(LADDER_MODE, 'invalid negative values in entry [%d %d] in %s' % (threshold, replicas, map_name))
    return params


# ---------------------------------------------------------------------------
# Go sort.Sort (pdqsort, Go 1.19+): CPA sorts with it, and it is not stable for
# more than 12 entries, which decides which of two equal thresholds wins.
# Algorithm of the Go standard library's sort package, re-expressed for a list of
# [threshold, replicas]. Its licence (BSD-3-Clause) asks us to keep this notice:
#
#   Copyright 2009 The Go Authors.
#
#   Redistribution and use in source and binary forms, with or without
#   modification, are permitted provided that the following conditions are met:
#      * Redistributions of source code must retain the above copyright notice,
#        this list of conditions and the following disclaimer.
#      * Redistributions in binary form must reproduce the above copyright
#        notice, this list of conditions and the following disclaimer in the
#        documentation and/or other materials provided with the distribution.
#      * Neither the name of Google LLC nor the names of its contributors may be
#        used to endorse or promote products derived from this software without
#        specific prior written permission.
#
#   THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
#   AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
#   IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
#   ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE
#   LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
#   CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
#   SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
#   INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
#   CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
#   ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
#   POSSIBILITY OF SUCH DAMAGE.
# ---------------------------------------------------------------------------

class _GoSorter:
    def __init__(self, data):
        self.data = data

    def less(self, i, j):
        return self.data[i][0] < self.data[j][0]

    def swap(self, i, j):
        self.data[i], self.data[j] = self.data[j], self.data[i]

    def insertion_sort(self, a, b):
        for i in range(a + 1, b):
            j = i
            while j > a and self.less(j, j - 1):
                self.swap(j, j - 1)
                j -= 1

    def sift_down(self, lo, hi, first):
        root = lo
        while True:
            child = 2 * root + 1
            if child >= hi:
                return
            if child + 1 < hi and self.less(first + child, first + child + 1):
                child += 1
            if not self.less(first + root, first + child):
                return
            self.swap(first + root, first + child)
            root = child

    def heap_sort(self, a, b):
        first, lo, hi = a, 0, b - a
        for i in range((hi - 1) // 2, -1, -1):
            self.sift_down(i, hi, first)
        for i in range(hi - 1, -1, -1):
            self.swap(first, first + i)
            self.sift_down(lo, i, first)

    def pdqsort(self, a, b, limit):
        was_balanced = True
        was_partitioned = True
        while True:
            length = b - a
            if length <= 12:
                self.insertion_sort(a, b)
                return
            if limit == 0:
                self.heap_sort(a, b)
                return
            if not was_balanced:
                self.break_patterns(a, b)
                limit -= 1
            pivot, hint = self.choose_pivot(a, b)
            if hint == 'decreasing':
                self.reverse_range(a, b)
                pivot = (b - 1) - (pivot - a)
                hint = 'increasing'
            if was_balanced and was_partitioned and hint == 'increasing':
                if self.partial_insertion_sort(a, b):
                    return
            if a > 0 and not self.less(a - 1, pivot):
                a = self.partition_equal(a, b, pivot)
                continue
            mid, was_partitioned = self.partition(a, b, pivot)
            left_len, right_len = mid - a, b - mid
            balance_threshold = length // 8
            if left_len < right_len:
                was_balanced = left_len >= balance_threshold
                self.pdqsort(a, mid, limit)
                a = mid + 1
            else:
                was_balanced = right_len >= balance_threshold
                self.pdqsort(mid + 1, b, limit)
                b = mid

    def partition(self, a, b, pivot):
        self.swap(a, pivot)
        i, j = a + 1, b - 1
        while i <= j and self.less(i, a):
            i += 1
        while i <= j and not self.less(j, a):
            j -= 1
        if i > j:
            self.swap(j, a)
            return j, True
        self.swap(i, j)
        i += 1
        j -= 1
        while True:
            while i <= j and self.less(i, a):
                i += 1
            while i <= j and not self.less(j, a):
                j -= 1
            if i > j:
                break
            self.swap(i, j)
            i += 1
            j -= 1
        self.swap(j, a)
        return j, False

    def partition_equal(self, a, b, pivot):
        self.swap(a, pivot)
        i, j = a + 1, b - 1
        while True:
            while i <= j and not self.less(a, i):
                i += 1
            while i <= j and self.less(a, j):
                j -= 1
            if i > j:
                break
            self.swap(i, j)
            i += 1
            j -= 1
        return i

    def partial_insertion_sort(self, a, b):
        i = a + 1
        for _step in range(5):
            while i < b and not self.less(i, i - 1):
                i += 1
            if i == b:
                return True
            if b - a < 50:
                return False
            self.swap(i, i - 1)
            if i - a >= 2:
                j = i - 1
                while j >= 1:
                    if not self.less(j, j - 1):
                        break
                    self.swap(j, j - 1)
                    j -= 1
            if b - i >= 2:
                j = i + 1
                while j < b:
                    if not self.less(j, j - 1):
                        break
                    self.swap(j, j - 1)
                    j += 1
        return False

    def break_patterns(self, a, b):
        length = b - a
        if length >= 8:
            state = length
            modulus = 1 << length.bit_length()
            idx = a + (length // 4) * 2 - 1
            while idx <= a + (length // 4) * 2 + 1:
                state ^= (state << 13) & 0xFFFFFFFFFFFFFFFF
                state ^= state >> 17
                state ^= (state << 5) & 0xFFFFFFFFFFFFFFFF
                other = state & (modulus - 1)
                if other >= length:
                    other -= length
                self.swap(idx, a + other)
                idx += 1

    def choose_pivot(self, a, b):
        length = b - a
        swaps = [0]
        i = a + length // 4 * 1
        j = a + length // 4 * 2
        k = a + length // 4 * 3
        if length >= 8:
            if length >= 50:
                i = self.median(i - 1, i, i + 1, swaps)
                j = self.median(j - 1, j, j + 1, swaps)
                k = self.median(k - 1, k, k + 1, swaps)
            j = self.median(i, j, k, swaps)
        if swaps[0] == 0:
            return j, 'increasing'
        if swaps[0] == 12:
            return j, 'decreasing'
        return j, 'unknown'

    def order2(self, a, b, swaps):
        if self.less(b, a):
            swaps[0] += 1
            return b, a
        return a, b

    def median(self, a, b, c, swaps):
        a, b = self.order2(a, b, swaps)
        b, c = self.order2(b, c, swaps)
        a, b = self.order2(a, b, swaps)
        return b

    def reverse_range(self, a, b):
        i, j = a, b - 1
        while i < j:
            self.swap(i, j)
            i += 1
            j -= 1


def go_sort_entries(entries):
    """Return a copy of ``entries`` sorted by threshold exactly as CPA's Go ``sort.Sort`` orders it."""
    data = [list(entry) for entry in entries]
    if len(data) > 1:
        _GoSorter(data).pdqsort(0, len(data), len(data).bit_length())
    return data


def parse_ladder(value):
    """CPA's ladder SyncConfig: decode like Go, reject negatives, sort both lists by threshold as Go does.

    ``value`` is the ConfigMap's ``ladder`` string or an equivalent mapping.
    Returns {'coresToReplicas': [[t, r], ...], 'nodesToReplicas': [...], 'includeUnschedulableNodes': bool}.
    """
    params = decode_ladder_json(value)
    params[CORES_KEY] = go_sort_entries(params[CORES_KEY])
    params[NODES_KEY] = go_sort_entries(params[NODES_KEY])
    return params


def parse_linear(value):
    """CPA's linear parseParams, including its defaults (min 0 -> 1) and its validation order.

    Returns {'coresPerReplica': float, 'nodesPerReplica': float, 'min': int, 'max': int,
    'preventSinglePointFailure': bool, 'includeUnschedulableNodes': bool}.
    """
    text = _json_text(value, LINEAR_MODE)
    try:
        tree = _load_json_tree(text)
    except ValueError as exc:
        raise _cpa_parse_error(LINEAR_MODE, 'could not parse parameters (%s)' % exc) from None
    decoder = _GoDecoder('linearParams')
    params = {'coresPerReplica': 0.0, 'nodesPerReplica': 0.0, 'min': 0, 'max': 0,
              'preventSinglePointFailure': False, INCLUDE_UNSCHEDULABLE_KEY: False}
    if tree is not None:
        if not isinstance(tree, _Obj):
            raise _cpa_parse_error(LINEAR_MODE, 'could not parse parameters (json: cannot unmarshal %s into Go value of type %s)'
                                   % (_go_kind(tree), _LINEAR_GO_TYPE))
        for key, node in tree:
            field = _match_field(key, LINEAR_KEYS)
            if field in ('coresPerReplica', 'nodesPerReplica'):
                params[field] = decoder.go_float(node, field, params[field])
            elif field in ('min', 'max'):
                params[field] = decoder.go_int(node, field, params[field])
            elif field is not None:
                params[field] = decoder.go_bool(node, field, params[field])
    if decoder.error:
        raise _cpa_parse_error(LINEAR_MODE, 'could not parse parameters (%s)' % decoder.error)
    if params['min'] < 0:
        raise _cpa_parse_error(LINEAR_MODE, 'invalid negative value for min: %d' % params['min'])
    if params['min'] == 0:
        params['min'] = 1
    if params['max'] != 0 and params['max'] < params['min']:
        raise _cpa_parse_error(LINEAR_MODE, 'max replicas count %d should be greater than / equal to min replicas count %d'
                               % (params['max'], params['min']))
    if params['coresPerReplica'] == 0 and params['nodesPerReplica'] == 0:
        raise _cpa_parse_error(LINEAR_MODE, 'should at least provide either CoresPerReplica or NodesPerReplica (Greater than 0)')
    for field in ('coresPerReplica', 'nodesPerReplica'):
        if params[field] < 0:
            raise _cpa_parse_error(LINEAR_MODE, 'invalid negative value for %s: %s' % (field, _go_float_text(params[field])))
    return params


def _go_float_text(number):
    """Go's %v for a float64: shortest digits, exponent form when the exponent is < -4 or >= 6."""
    if number == 0:
        return '0'
    sign = '-' if number < 0 else ''
    mantissa, _sep, exponent = ('%r' % abs(number)).partition('e')
    whole, _dot, fraction = mantissa.partition('.')
    digits = (whole + fraction).lstrip('0')
    point = len(whole.lstrip('0')) if whole.strip('0') else -(len(fraction) - len(fraction.lstrip('0')))
    point += int(exponent or 0)
    digits = digits.rstrip('0') or '0'
    exp = point - 1
    if exp < -4 or exp >= 6:
        text = digits[0] + ('.' + digits[1:] if len(digits) > 1 else '')
        return '%s%se%s%02d' % (sign, text, '-' if exp < 0 else '+', abs(exp))
    if point <= 0:
        return '%s0.%s%s' % (sign, '0' * -point, digits)
    if point >= len(digits):
        return sign + digits + '0' * (point - len(digits))
    return '%s%s.%s' % (sign, digits[:point], digits[point:])


def _go_map_text(data):
    """Go's %v of a map[string]string: keys sorted, ``map[k:v k2:v2]``."""
    return 'map[%s]' % ' '.join('%s:%s' % (key, data[key]) for key in sorted(data))


def parse_configmap_data(data):
    """CPA's EnsureController: ``data`` must hold exactly one key, 'ladder' or 'linear'.

    Returns ScalerParams(mode, params). Raises LadderError with CPA's message when
    CPA would refuse the ConfigMap (CPA then leaves the target's replicas unchanged).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LadderError('the ConfigMap data must be a mapping, got %s' % type(data).__name__,
                          'Pass the ConfigMap\'s data field')
    if len(data) != 1:
        shown = dict((str(key), value if isinstance(value, str) else json.dumps(value, default=str)) for key, value in data.items())
        cpa = 'invalid configMap format, expected only one entry, got: %s' % _go_map_text(shown)
        raise LadderError(cpa, 'Keep exactly one data key, "ladder" or "linear" (no notes or extra keys; put comments in annotations)', cpa)
    mode, value = next(iter(data.items()))
    if mode == LADDER_MODE:
        return ScalerParams(LADDER_MODE, parse_ladder(value))
    if mode == LINEAR_MODE:
        return ScalerParams(LINEAR_MODE, parse_linear(value))
    cpa = 'not a supported control mode: %s' % mode
    raise LadderError(cpa, 'The only data key must be "ladder" or "linear" (lower case)', cpa)


# ---------------------------------------------------------------------------
# Replica computation
# ---------------------------------------------------------------------------

def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise LadderError('%s must be an integer, got %r' % (name, value), 'Pass a whole number of nodes or cores')
    if value < 0:
        raise LadderError('%s must not be negative, got %d' % (name, value), 'Pass a count of 0 or more')
    return int(value)


def _counts(nodes, cores, schedulable_nodes, schedulable_cores):
    nodes = _count(nodes, 'nodes')
    cores = _count(cores, 'cores')
    schedulable_nodes = nodes if schedulable_nodes is None else _count(schedulable_nodes, 'schedulable_nodes')
    schedulable_cores = cores if schedulable_cores is None else _count(schedulable_cores, 'schedulable_cores')
    return nodes, cores, schedulable_nodes, schedulable_cores


def entries_replicas(count, entries):
    """One ladder list: the entry with the largest threshold <= count; below the first threshold the first entry; empty -> 0.

    ``entries`` must already be sorted (as parse_ladder returns them).
    """
    if not entries:
        return 0
    # First index whose threshold is strictly greater than count, then one step back (never below 0).
    low, high = 0, len(entries)
    while low < high:
        middle = (low + high) // 2
        if count < entries[middle][0]:
            high = middle
        else:
            low = middle + 1
    return entries[max(low - 1, 0)][1]


def _ladder_params(params):
    if isinstance(params, ScalerParams):
        if params.mode != LADDER_MODE:
            raise LadderError('expected ladder params, got %s params' % params.mode, 'Use linear_replicas or compute_replicas')
        return params.params
    return parse_ladder(params)


def ladder_replicas(params, nodes, cores, schedulable_nodes=None, schedulable_cores=None):
    """Replicas CPA v1.9.0 sets in ladder mode.

    ``params``: the ladder JSON string, a mapping, or parse_ladder's result. Counts are
    totals; schedulable_* default to the totals. With includeUnschedulableNodes the
    totals are used, otherwise the schedulable counts. Result: max(cores side, nodes
    side), truncated to int32 like CPA.
    """
    ladder = _ladder_params(params)
    nodes, cores, schedulable_nodes, schedulable_cores = _counts(nodes, cores, schedulable_nodes, schedulable_cores)
    if ladder[INCLUDE_UNSCHEDULABLE_KEY]:
        use_nodes, use_cores = nodes, cores
    else:
        use_nodes, use_cores = schedulable_nodes, schedulable_cores
    from_cores = entries_replicas(use_cores, ladder[CORES_KEY])
    from_nodes = entries_replicas(use_nodes, ladder[NODES_KEY])
    return _go_int32(max(from_cores, from_nodes))


def _linear_side(count, per_replica, params):
    if per_replica == 0:
        return 1
    result = float(math.ceil(count / per_replica)) if math.isfinite(count / per_replica) else count / per_replica
    if params['max'] != 0:
        result = min(float(params['max']), result)
    return _go_float_to_int(max(float(params['min']), result))


def linear_replicas(params, nodes, cores, schedulable_nodes=None, schedulable_cores=None):
    """Replicas CPA v1.9.0 sets in linear mode (``params``: JSON string, mapping or parse_linear's result).

    Per side: ceil(count / perReplica) clamped to max (if set) then min; a side whose
    perReplica is 0 gives 1. preventSinglePointFailure raises the node side to 2 when
    more than one node is counted (even above max). Result: max of the sides, int32.
    """
    if isinstance(params, ScalerParams):
        if params.mode != LINEAR_MODE:
            raise LadderError('expected linear params, got %s params' % params.mode, 'Use ladder_replicas or compute_replicas')
        linear = params.params
    else:
        linear = parse_linear(params)
    nodes, cores, schedulable_nodes, schedulable_cores = _counts(nodes, cores, schedulable_nodes, schedulable_cores)
    if linear[INCLUDE_UNSCHEDULABLE_KEY]:
        use_nodes, use_cores = nodes, cores
    else:
        use_nodes, use_cores = schedulable_nodes, schedulable_cores
    from_cores = _linear_side(use_cores, linear['coresPerReplica'], linear)
    from_nodes = _linear_side(use_nodes, linear['nodesPerReplica'], linear)
    if linear['preventSinglePointFailure'] and use_nodes > 1 and from_nodes < 2:
        from_nodes = 2
    return _go_int32(max(from_cores, from_nodes))


def compute_replicas(data_or_params, nodes, cores, schedulable_nodes=None, schedulable_cores=None):
    """Replicas CPA v1.9.0 would set for a ConfigMap ``data`` mapping (or a ScalerParams).

    Raises LadderError when CPA would refuse the ConfigMap; CPA then leaves the
    target's replica count unchanged.
    """
    params = data_or_params if isinstance(data_or_params, ScalerParams) else parse_configmap_data(data_or_params)
    if params.mode == LADDER_MODE:
        return ladder_replicas(params, nodes, cores, schedulable_nodes, schedulable_cores)
    return linear_replicas(params, nodes, cores, schedulable_nodes, schedulable_cores)


# ---------------------------------------------------------------------------
# Kubernetes CPU quantities and cluster counts (CPA k8sclient GetClusterStatus)
# ---------------------------------------------------------------------------

_DECIMAL_SUFFIXES = {'n': -9, 'u': -6, 'm': -3, '': 0, 'k': 3, 'M': 6, 'G': 9, 'T': 12, 'P': 15, 'E': 18}
_BINARY_SUFFIXES = {'Ki': 10, 'Mi': 20, 'Gi': 30, 'Ti': 40, 'Pi': 50, 'Ei': 60}
_SUFFIX_CHARS = frozenset('eEinumkKMGTP')
_NANO = Fraction(1, 10 ** 9)
_QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def _split_quantity(text):
    """Mirror of apimachinery's parseQuantityString: (positive, digits, decimals, suffix)."""
    positive, pos, end = True, 0, len(text)
    if pos < end and text[0] in '+-':
        positive = text[0] == '+'
        pos += 1
    while pos < end and text[pos] == '0':
        pos += 1
    if pos >= end:
        return positive, '0', '', ''
    start = pos
    while pos < end and text[pos] in '0123456789':
        pos += 1
    digits = text[start:pos] or '0'
    decimals = ''
    if pos < end and text[pos] == '.':
        pos += 1
        start = pos
        while pos < end and text[pos] in '0123456789':
            pos += 1
        decimals = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in '+-':
        pos += 1
    while pos < end and text[pos] in '0123456789':
        pos += 1
    if pos < end:
        raise QuantityError('CPU quantity %r is not valid: %s' % (text, _QUANTITY_FORMAT), 'Use a Kubernetes quantity such as "1900m", "2" or "3.5"')
    return positive, digits, decimals, text[suffix_start:]


def _suffix_scale(text, suffix):
    """(base, exponent) for a quantity suffix, like apimachinery's suffixHandler.interpret."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix]
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix]
    if len(suffix) > 1 and suffix[0] in 'eE' and re.match(r'[+-]?[0-9]+\Z', suffix[1:]) and INT64_MIN <= int(suffix[1:]) <= INT64_MAX:
        return 10, _go_int32(int(suffix[1:]))
    raise QuantityError("CPU quantity %r is not valid: unable to parse quantity's suffix %r" % (text, suffix),
                        'Use a suffix such as m, k, Ki or e3, or none')


def parse_cpu_quantity(text):
    """Exact value of a Kubernetes quantity string as apimachinery's ParseQuantity keeps it.

    Returns a Fraction: more than nine decimals are rounded up (away from zero) to a
    nano unit and the magnitude is capped at 2**63-1, as Kubernetes does. Raises
    QuantityError for strings Kubernetes rejects. Surrounding spaces are ignored (as in JSON decoding).
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise QuantityError('CPU quantity must be a string, got %r' % (text,), 'Pass status.allocatable.cpu as reported by the API')
    text = text.strip()
    if not text:
        raise QuantityError('CPU quantity is empty: %s' % _QUANTITY_FORMAT, 'Use a Kubernetes quantity such as "1900m", "2" or "3.5"')
    if len(text) > 1000:
        raise QuantityError('CPU quantity is %d characters long; refusing more than 1000' % len(text), 'Pass status.allocatable.cpu as reported by the API')
    positive, digits, decimals, suffix = _split_quantity(text)
    base, exponent = _suffix_scale(text, suffix)
    mantissa = int(digits + decimals)
    if mantissa == 0:
        return Fraction(0)
    if base == 2:
        value = Fraction(mantissa * (2 ** exponent), 10 ** len(decimals))
    else:
        power = exponent - len(decimals)
        magnitude = power + len(str(mantissa))  # value < 10 ** magnitude
        if magnitude > 20:
            value = Fraction(INT64_MAX)
        elif magnitude < -12:
            value = _NANO
        else:
            value = Fraction(mantissa) * (Fraction(10) ** power)
    if (value / _NANO).denominator != 1:
        value = Fraction(math.ceil(value / _NANO)) * _NANO
    value = min(value, Fraction(INT64_MAX))
    return value if positive else -value


def _quantity_value(quantity):
    if quantity is None:
        return Fraction(0)
    if isinstance(quantity, bool):
        raise QuantityError('CPU quantity must be a string or an integer, got %r' % (quantity,), 'Pass status.allocatable.cpu')
    if isinstance(quantity, int):
        return Fraction(quantity)
    if isinstance(quantity, float):
        if not math.isfinite(quantity):
            raise QuantityError('CPU quantity must be finite, got %r' % (quantity,), 'Pass status.allocatable.cpu')
        return parse_cpu_quantity(repr(quantity))
    return parse_cpu_quantity(quantity)


def _round_away_from_zero(value):
    return math.ceil(value) if value >= 0 else -math.ceil(-value)


def sum_allocatable_cores(quantities):
    """CPA's core count: sum the allocatable CPU quantities exactly, then round up once, then int32.

    Items may be quantity strings ("1900m", "2", "3.5"), integers, or None (a node
    without allocatable cpu counts 0). Example: ["1900m", "1900m", "1900m"] -> 6.
    """
    total = sum((_quantity_value(quantity) for quantity in quantities), Fraction(0))
    return _go_int32(_round_away_from_zero(total))


def _node_get(node, *path):
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _node_ready(node):
    for condition in _node_get(node, 'status', 'conditions') or []:
        if isinstance(condition, dict) and condition.get('type') == 'Ready':
            return condition.get('status') == 'True'
    return False


def cluster_status(nodes, node_labels=None, require_ready=False):
    """CPA's GetClusterStatus over Kubernetes Node objects (API dicts).

    Schedulable = not ``spec.unschedulable`` (cordoned); ``require_ready=True`` adds the
    Ready=True condition check of CPA v1.10.1+ (AKS ships v1.9.0, which does not check).
    ``node_labels`` is CPA's --nodelabels as a mapping (all must match).
    Returns {'total_nodes', 'schedulable_nodes', 'total_cores', 'schedulable_cores'}.
    """
    total_nodes = schedulable_nodes = 0
    total_cpu, schedulable_cpu = [], []
    for node in nodes:
        labels = _node_get(node, 'metadata', 'labels') or {}
        if node_labels and any(labels.get(key) != value for key, value in node_labels.items()):
            continue
        cpu = (_node_get(node, 'status', 'allocatable') or {}).get('cpu')
        total_nodes += 1
        total_cpu.append(cpu)
        if _node_get(node, 'spec', 'unschedulable'):
            continue
        if require_ready and not _node_ready(node):
            continue
        schedulable_nodes += 1
        schedulable_cpu.append(cpu)
    return {
        'total_nodes': _go_int32(total_nodes),
        'schedulable_nodes': _go_int32(schedulable_nodes),
        'total_cores': sum_allocatable_cores(total_cpu),
        'schedulable_cores': sum_allocatable_cores(schedulable_cpu),
    }


# ---------------------------------------------------------------------------
# Strict validation for ladders we write, rendering and comparison
# ---------------------------------------------------------------------------

class _StrictFloat(float):
    """A JSON number written with a fraction or exponent (1.0, 1e2): not an integer for us."""


def _strict_load(ladder, errors):
    """Parse for the write validator: returns a plain dict or None (with errors added)."""
    if isinstance(ladder, str):
        duplicates = []

        def pairs_hook(pairs):
            seen = set()
            for key, _value in pairs:
                if key in seen:
                    duplicates.append(key)
                seen.add(key)
            return dict(pairs)

        if not ladder.strip():
            errors.append('the ladder is empty; write a JSON object such as {"nodesToReplicas":[[1,2],[100,3]]}')
            return None
        try:
            document = json.loads(ladder, object_pairs_hook=pairs_hook, parse_float=_StrictFloat, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            errors.append('the ladder is not valid JSON (%s)' % exc)
            return None
        for key in duplicates:
            errors.append('key %r appears more than once; keep it once (CPA would silently use the last one)' % key)
    else:
        document = ladder
    if not isinstance(document, dict):
        errors.append('the ladder must be a JSON object with coresToReplicas and/or nodesToReplicas, got %s' % _type_word(document))
        return None
    return document


def _type_word(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, int):
        return 'an integer'
    if isinstance(value, float):
        return 'a non-integer number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, dict):
        return 'an object'
    if isinstance(value, list):
        return 'a list'
    return 'a %s' % type(value).__name__


def _strict_entries(document, key, errors):
    """Check one list strictly; return its [[t, r], ...] when every entry is valid, else None."""
    if key not in document:
        return []
    entries = document[key]
    if not isinstance(entries, (list, tuple)):
        errors.append('%s must be a list of [threshold, replicas] pairs, got %s' % (key, _type_word(entries)))
        return None
    clean = []
    for index, entry in enumerate(entries):
        where = '%s[%d]' % (key, index)
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            errors.append('%s must be a pair [threshold, replicas], got %s' % (where, json.dumps(entry, default=str)))
            continue
        good = True
        for value, what in zip(entry, ('threshold', 'replicas')):
            if isinstance(value, bool) or not isinstance(value, int) or isinstance(value, _StrictFloat):
                errors.append('%s %s must be an integer, got %s (%s)' % (where, what, json.dumps(value, default=str), _type_word(value)))
                good = False
            elif value < 0:
                errors.append('%s %s must not be negative, got %d (CPA refuses the whole ConfigMap)' % (where, what, value))
                good = False
            elif value > INT32_MAX:
                errors.append('%s %s %d is larger than %d; CPA counts and replicas are 32-bit' % (where, what, value, INT32_MAX))
                good = False
        if good and entry[1] == 0:
            errors.append('%s gives 0 replicas at %d+ %s; CPA would scale konnectivity-agent to zero and drop the tunnel. Use at least %d'
                          % (where, entry[0], 'cores' if key == CORES_KEY else 'nodes', HA_MIN_REPLICAS))
            good = False
        if good:
            clean.append([int(entry[0]), int(entry[1])])
    return clean if len(clean) == len(entries) else None


def validate_ladder_for_write(ladder):
    """Stricter-than-CPA checks for a ladder we would write. Returns (errors, warnings), lists of strings.

    Errors: not a JSON object, unknown or duplicate keys, wrong types (only integers,
    booleans are not integers, 1.0 is not an integer), negative values, 0 replicas,
    duplicate thresholds, no non-empty list, non-boolean includeUnschedulableNodes.
    Warnings: a cluster size that gets fewer than 2 replicas (no HA), entries not sorted
    by threshold (CPA sorts; we write them sorted), replicas that decrease as the threshold rises.
    """
    errors, warnings = [], []
    document = _strict_load(ladder, errors)
    if document is None:
        return errors, warnings
    for key in document:
        if key not in LADDER_KEYS:
            folded = _match_field(str(key), LADDER_KEYS)
            if folded:
                errors.append('key %r must be spelled exactly %r (CPA accepts other cases, we do not write them)' % (key, folded))
            else:
                errors.append('unknown key %r; a ladder only has %s (CPA would ignore it)' % (key, ', '.join(LADDER_KEYS)))
    if INCLUDE_UNSCHEDULABLE_KEY in document and not isinstance(document[INCLUDE_UNSCHEDULABLE_KEY], bool):
        errors.append('%s must be true or false (a JSON boolean), got %s; CPA refuses strings such as "true"'
                      % (INCLUDE_UNSCHEDULABLE_KEY, json.dumps(document[INCLUDE_UNSCHEDULABLE_KEY], default=str)))
    lists = {}
    for key in (CORES_KEY, NODES_KEY):
        entries = _strict_entries(document, key, errors)
        if entries is None:
            continue
        lists[key] = entries
        thresholds = [entry[0] for entry in entries]
        repeated = sorted(set(t for t in thresholds if thresholds.count(t) > 1))
        for threshold in repeated:
            errors.append('%s has threshold %d more than once; keep one entry per threshold' % (key, threshold))
        if thresholds != sorted(thresholds):
            warnings.append('%s is not sorted by threshold; CPA sorts it, and it is written sorted' % key)
        ordered = sorted(entries, key=lambda entry: entry[0])
        for lower, higher in zip(ordered, ordered[1:]):
            if higher[1] < lower[1] and higher[0] != lower[0]:
                warnings.append('%s goes down from %d replicas at %d to %d replicas at %d; replicas usually grow with the cluster'
                                % (key, lower[1], lower[0], higher[1], higher[0]))
    if not any(document.get(key) for key in (CORES_KEY, NODES_KEY)) and not errors:
        errors.append('the ladder has no entries in %s or %s; CPA would scale konnectivity-agent to 0 replicas' % (NODES_KEY, CORES_KEY))
    if not errors:
        floors = [min(entry[1] for entry in entries) for entries in lists.values() if entries]
        floor = max(floors) if floors else 0
        if floor < HA_MIN_REPLICAS:
            warnings.append('some cluster sizes get only %d replica(s): no high availability for the tunnel; use at least %d at every step'
                            % (floor, HA_MIN_REPLICAS))
    return errors, warnings


def render_ladder(ladder):
    """Canonical compact JSON of a ladder as CPA understands it.

    Lists sorted by threshold (Go's order), empty lists and a false
    includeUnschedulableNodes omitted, keys sorted, no spaces:
    ``{"nodesToReplicas":[[1,2],[100,3]]}``. Raises LadderError if CPA would refuse it.
    """
    params = parse_ladder(ladder)
    document = {}
    for key in (CORES_KEY, NODES_KEY):
        if params[key]:
            document[key] = params[key]
    if params[INCLUDE_UNSCHEDULABLE_KEY]:
        document[INCLUDE_UNSCHEDULABLE_KEY] = True
    return json.dumps(document, separators=(',', ':'), sort_keys=True)


def ladders_equal(first, second):
    """True when CPA would behave identically for both ladders (same parsed, sorted params).

    A ladder CPA would refuse is never equal to anything (so a broken live ladder always
    differs from the one we want).
    """
    try:
        return parse_ladder(first) == parse_ladder(second)
    except LadderError:
        return False


def ladder_steps(entries):
    """Human view of one sorted list: [{'from': 0, 'to': 99, 'replicas': 2}, ..., {'from': 5000, 'to': None, 'replicas': 10}].

    Exact CPA lookup per range: counts below the first threshold use the first entry;
    for a repeated threshold the last entry wins. Adjacent ranges with the same
    replicas are merged. An empty list gives [] (CPA: 0 replicas from that list).
    """
    starts = []
    if entries and entries[0][0] > 0:
        starts.append([0, entries[0][1]])
    for index, (threshold, replicas) in enumerate(entries):
        if index + 1 < len(entries) and entries[index + 1][0] == threshold:
            continue
        starts.append([threshold, replicas])
    if starts:
        starts[0][0] = 0
    merged = []
    for start, replicas in starts:
        if merged and merged[-1][1] == replicas:
            continue
        merged.append([start, replicas])
    steps = []
    for index, (start, replicas) in enumerate(merged):
        end = merged[index + 1][0] - 1 if index + 1 < len(merged) else None
        steps.append({'from': start, 'to': end, 'replicas': replicas})
    return steps


def aks_doc_example_ladder():
    """A fresh copy of AKS_DOC_EXAMPLE_LADDER (the tunnel article's example, nodes only)."""
    return {NODES_KEY: [list(entry) for entry in AKS_DOC_EXAMPLE_LADDER[NODES_KEY]]}
