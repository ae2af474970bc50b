import type { Container } from '../../src/webhook/pod.js';

/** What the runtime takes from the image's config (OCI image config `config` object). */
export interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
}

/** Where a pod volume lives on the host (kubelet's pod folder, here a temp folder or tmpfs). */
export interface HostVolume {
  hostPath: string;
}

export interface PodContainerOptions {
  /** the image's unpacked root filesystem */
  rootfs: string;
  image: ImageConfig;
  container: Container;
  /** pod volumes by name */
  volumes: Record<string, HostVolume>;
  /** host files bound read-only into the container (test-only: the emulator's CA) */
  extraBinds?: { hostPath: string; containerPath: string }[];
  /** env added after the container's (test-only: NODE_EXTRA_CA_CERTS for the emulator's CA) */
  extraEnv?: Record<string, string>;
  /** cgroup path for the memory limit */
  cgroupsPath: string;
  /** the pod's namespace, for env `valueFrom.fieldRef: metadata.namespace` (the downward API) */
  podNamespace?: string;
}

const KIB = 1024;
const UNITS: Record<string, number> = { Ki: KIB, Mi: KIB ** 2, Gi: KIB ** 3, K: 1e3, M: 1e6, G: 1e9, '': 1 };

/** A Kubernetes memory quantity in bytes ('96Mi' → 100663296). */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G|)$/.exec(quantity);
  if (!m) throw new Error(`unsupported memory quantity ${quantity}`);
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

/** The image's `USER` as uid and gid; a name (not a number) is refused, as kubelet refuses it with runAsNonRoot. */
export function imageUser(user: string | undefined): { uid: number; gid: number } {
  if (!user) return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) throw new Error(`image USER ${user} is not numeric: kubelet cannot verify runAsNonRoot for it`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}

/**
 * Translates a pod's container (as the webhook or the chart writes it) and the image's config
 * into an OCI runtime config, the way kubelet and a CRI runtime do for the parts this project uses:
 * command = image ENTRYPOINT + container args; env = image env then container env; user from
 * securityContext, else the image's USER, refused when runAsNonRoot and it is root; no capabilities
 * when `drop: [ALL]`; no_new_privs when allowPrivilegeEscalation is false; a read-only root when
 * readOnlyRootFilesystem; the memory limit as the cgroup's; each volumeMount a bind mount of the
 * volume's host folder (read-only when the mount is).
 *
 * Differences from a kubelet pod, on purpose: the host's network namespace is shared (the emulator
 * and the test clients listen on the host's loopback); no seccomp filter is loaded; kubelet's own
 * mounts (/etc/hosts, /etc/resolv.conf, /dev/termination-log) are left out (nothing here reads them).
 */
export function podContainerConfig(o: PodContainerOptions): Record<string, unknown> {
  const c = o.container;
  const sc = (c.securityContext ?? {}) as {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  const fromImage = imageUser(o.image.User);
  const uid = sc.runAsUser ?? fromImage.uid;
  const gid = sc.runAsGroup ?? (sc.runAsUser !== undefined ? 0 : fromImage.gid);
  if (sc.runAsNonRoot && uid === 0) {
    throw new Error(`container ${c.name}: container has runAsNonRoot and image will run as root (kubelet refuses to start it)`);
  }
  const command = c.command as string[] | undefined;
  const args = [...(command ?? o.image.Entrypoint ?? []), ...(c.args ?? (command ? [] : (o.image.Cmd ?? [])))];
  const env = [...(o.image.Env ?? [])];
  const setEnv = (name: string, value: string) => {
    const i = env.findIndex((e) => e.startsWith(`${name}=`));
    if (i >= 0) env.splice(i, 1);
    env.push(`${name}=${value}`);
  };
  for (const e of c.env ?? []) {
    const fieldPath = (e as { valueFrom?: { fieldRef?: { fieldPath?: string } } }).valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) setEnv(e.name, e.value);
    else if (fieldPath === 'metadata.namespace' && o.podNamespace) setEnv(e.name, o.podNamespace);
    else throw new Error(`container ${c.name}: env ${e.name} has no literal value (only valueFrom metadata.namespace is supported here)`);
  }
  for (const [k, v] of Object.entries(o.extraEnv ?? {})) setEnv(k, v);

  const dropAll = sc.capabilities?.drop?.includes('ALL') ?? false;
  const defaultCaps = [
    'CAP_CHOWN',
    'CAP_DAC_OVERRIDE',
    'CAP_FSETID',
    'CAP_FOWNER',
    'CAP_MKNOD',
    'CAP_NET_RAW',
    'CAP_SETGID',
    'CAP_SETUID',
    'CAP_SETFCAP',
    'CAP_SETPCAP',
    'CAP_NET_BIND_SERVICE',
    'CAP_SYS_CHROOT',
    'CAP_KILL',
    'CAP_AUDIT_WRITE',
  ];
  const caps = [...(dropAll ? [] : defaultCaps), ...(sc.capabilities?.add ?? []).map((a) => `CAP_${a}`)];

  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
  for (const m of c.volumeMounts ?? []) {
    const v = o.volumes[m.name];
    if (!v) throw new Error(`container ${c.name} mounts volume ${m.name}, which the pod does not provide`);
    mounts.push({ destination: m.mountPath, type: 'bind', source: v.hostPath, options: ['rbind', 'nosuid', 'nodev', m.readOnly ? 'ro' : 'rw'] });
  }
  for (const b of o.extraBinds ?? [])
    mounts.push({ destination: b.containerPath, type: 'bind', source: b.hostPath, options: ['rbind', 'ro', 'nosuid', 'nodev'] });

  const memoryLimit = (c.resources as { limits?: { memory?: string } } | undefined)?.limits?.memory;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid, gid, additionalGids: [gid] },
      args,
      env,
      cwd: (c.workingDir as string | undefined) ?? o.image.WorkingDir ?? '/',
      capabilities: { bounding: caps, effective: caps, inheritable: [], permitted: caps, ambient: [] },
      noNewPrivileges: sc.allowPrivilegeEscalation === false,
      // no rlimits: this sandbox refuses raising them, and kubelet sets none either
    },
    root: { path: o.rootfs, readonly: sc.readOnlyRootFilesystem === true },
    hostname: c.name,
    mounts,
    linux: {
      cgroupsPath: o.cgroupsPath,
      resources: memoryLimit ? { memory: { limit: memoryBytes(memoryLimit) } } : {},
      // the network namespace is the host's (see above)
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
