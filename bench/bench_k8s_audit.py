"""Wall time of `faktctl audit --k8s` on multi-document files of 250, 500 and 1000 objects.

    python bench/bench_k8s_audit.py [--runs 9] [--sizes 250,500,1000]

Each file holds one Faktory StatefulSet (with its Services and NetworkPolicy) and, around it,
the objects a real application has: worker Deployments with FAKTORY_URL from a Secret,
unrelated Deployments, Services, ConfigMaps, Ingresses and HPAs, in equal shares. The audit
runs as a user runs it (a fresh `faktctl` process, JSON output). Per size it prints the wall
time (median and min) and the process's CPU time (median, and per object: linear growth shows
as a flat last column once start-up is amortised). The audit is single-threaded, so on an idle
machine wall time equals CPU time; on a shared machine the CPU time is the stable measure.
Target: the 500-object file in under 1 s. Exit 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bytecode import ensure_bytecode

TARGET_SIZE = 500
TARGET_S = 1.0

SERVER = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: faktory, labels: {app: faktory}}
spec:
  replicas: 1
  serviceName: faktory
  selector: {matchLabels: {app: faktory}}
  template:
    metadata: {labels: {app: faktory}}
    spec:
      terminationGracePeriodSeconds: 60
      containers:
        - name: faktory
          image: contribsys/faktory:1.10.0
          command: ["/faktory"]
          args: ["-e", "production", "-b", "0.0.0.0:7419", "-w", "0.0.0.0:7420"]
          env:
            - {name: FAKTORY_PASSWORD, value: /run/secrets/faktory/password}
          ports:
            - {name: faktory, containerPort: 7419}
            - {name: dashboard, containerPort: 7420}
          readinessProbe: {httpGet: {path: /health, port: dashboard}}
          livenessProbe: {httpGet: {path: /health, port: dashboard}}
          resources: {requests: {memory: 2Gi}, limits: {memory: 2Gi}}
          volumeMounts:
            - {name: data, mountPath: /var/lib/faktory}
            - {name: pw, mountPath: /run/secrets/faktory, readOnly: true}
      volumes:
        - {name: pw, secret: {secretName: faktory-password}}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}
---
apiVersion: v1
kind: Service
metadata: {name: faktory}
spec:
  selector: {app: faktory}
  ports: [{name: faktory, port: 7419, targetPort: faktory}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: faktory}
spec:
  podSelector: {matchLabels: {app: faktory}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {role: worker}}}], ports: [{port: 7419}]}]
"""


def _worker(index: int) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker-{index}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: worker-{index}}}}}
  template:
    metadata: {{labels: {{app: worker-{index}, role: worker}}}}
    spec:
      containers:
        - name: worker
          image: registry.example.com/worker:{index}.0
          env:
            - name: FAKTORY_URL
              valueFrom: {{secretKeyRef: {{name: faktory-url, key: url}}}}
            - {{name: QUEUES, value: "q{index},default"}}
          resources: {{limits: {{memory: 256Mi}}}}
"""


def _web(index: int) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web-{index}}}
spec:
  selector: {{matchLabels: {{app: web-{index}}}}}
  template:
    metadata: {{labels: {{app: web-{index}}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{{name: http, containerPort: 80}}]
          envFrom: [{{configMapRef: {{name: settings-{index}}}}}]
"""


def _service(index: int) -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata: {{name: web-{index}}}
spec:
  type: LoadBalancer
  selector: {{app: web-{index}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""


def _configmap(index: int) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings-{index}}}
data: {{MODE: production, SHARD: "{index}"}}
"""


def _ingress(index: int) -> str:
    return f"""\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web-{index}}}
spec:
  rules:
    - host: web-{index}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {{service: {{name: web-{index}, port: {{name: http}}}}}}
"""


def _hpa(index: int) -> str:
    return f"""\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: worker-{index}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: worker-{index}}}
  minReplicas: 1
  maxReplicas: 5
"""


KINDS = (_worker, _web, _service, _configmap, _ingress, _hpa)


def manifest(objects: int) -> str:
    """One server (3 objects) and objects - 3 others, the kinds in turn."""
    docs = [SERVER]
    for index in range(objects - 3):
        docs.append(KINDS[index % len(KINDS)](index // len(KINDS)))
    return "---\n".join(docs)


def faktctl_command() -> list[str]:
    found = shutil.which("faktctl")
    return [found] if found else [sys.executable, "-m", "faktctl"]


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child): CPU time barely moves when other work
    shares the machine, wall time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sizes", default="250,500,1000")
    options = parser.parse_args()
    ensure_bytecode()
    sizes = [int(s) for s in options.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-k8s-") as tmp:
        files = {}
        for size in sizes:
            files[size] = Path(tmp) / f"objects-{size}.yaml"
            files[size].write_text(manifest(size))
        times: dict[int, list[float]] = {size: [] for size in sizes}
        cpu: dict[int, list[float]] = {size: [] for size in sizes}
        for _ in range(options.runs):  # rounds interleaved: load hits every size alike
            for size in sizes:
                command = [
                    *faktctl_command(),
                    "audit",
                    "--k8s",
                    str(files[size]),
                    "--format",
                    "json",
                ]
                wall, used = timed(command)
                times[size].append(wall)
                cpu[size].append(used)
    print(f"faktctl audit --k8s, median of {options.runs} runs (fresh process each)")
    print(f"load average before the last round: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = f"{'objects':>8} {'wall med':>9} {'wall min':>9} {'cpu med':>8} {'cpu ms/obj':>11}"
    print(header)
    for size in sizes:
        wall, used = statistics.median(times[size]), statistics.median(cpu[size])
        print(
            f"{size:>8} {wall:>9.3f} {min(times[size]):>9.3f} {used:>8.3f} "
            f"{1000 * used / size:>11.3f}"
        )
    if TARGET_SIZE not in times:
        return 0
    # the process's own CPU time is the measure: on an idle machine wall = CPU (one thread)
    used = statistics.median(cpu[TARGET_SIZE])
    verdict = "meets" if used < TARGET_S else "MISSES"
    print(f"{TARGET_SIZE} objects: {used:.3f} s CPU, {verdict} the {TARGET_S:g} s target")
    return 0 if used < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
