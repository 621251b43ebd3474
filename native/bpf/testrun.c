/* BPF_PROG_TEST_RUN harness for the kernel flow cache: loads build/bpf/flow_cache.bpf.o with
 * libbpf (nothing is attached or pinned), fills its maps, runs the program on packets and
 * prints what came out. Driven by test/fastpath/prog-test-run.test.ts; needs CAP_BPF and
 * CAP_SYS_ADMIN (root).
 *
 * Usage: testrun OBJ < script. One command per line, fields as key=value:
 *   pod  if=N mac=M [v4=A]... [v6=A]...
 *   flow if=N proto=6|17|1|58 src=A dst=A [sport=P dport=P] [new_src=A] [new_dst=A]
 *        [new_sport=P] [new_dport=P] [action=pass|peer|neigh|fib] [target=N] [nh=A]
 *        [mtu=N] [flags=N] [dmac=M smac=M] [id=N]        (rewrite bits follow from the fields given)
 *   run  if=N [gso_size=N gso_segs=N] pkt=HEX  (HEX: the whole Ethernet frame)
 * Output, one JSON object per line: {"prog":{...}} with the verifier's and JIT's sizes,
 * {"run":i,"retval":R,"packet":"HEX"} for each run (R signed: TC_ACT_UNSPEC is -1), then
 * {"stats":{...}} summed over CPUs, {"flow":i,...} with each flow's stats tail in input
 * order, and {"spoof":ifindex,...} for each pod.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow_cache.h"

#define MAX_FLOWS 64
#define MAX_PODS 16
#define MAX_PKT 65536

static const char *stat_names[PODNET_STAT_MAX] = {PODNET_STAT_NAMES};
static const char *spoof_names[PODNET_SPOOF_MAX] = {PODNET_SPOOF_NAMES};

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "testrun: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

/* Parses an address into the 16-byte form of the maps; returns its family (4 or 6). */
static int parse_addr(const char *s, __u8 out[16])
{
  memset(out, 0, 16);
  if (inet_pton(AF_INET, s, out) == 1)
    return 4;
  if (inet_pton(AF_INET6, s, out) == 1)
    return 6;
  die("bad address %s", s);
  return 0;
}

static void parse_mac(const char *s, __u8 out[6])
{
  unsigned b[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    die("bad MAC %s", s);
  for (int i = 0; i < 6; i++)
    out[i] = (__u8)b[i];
}

static size_t parse_hex(const char *s, __u8 *out, size_t cap)
{
  size_t n = strlen(s) / 2;
  if (n > cap)
    die("packet too long");
  for (size_t i = 0; i < n; i++) {
    unsigned b;
    if (sscanf(s + 2 * i, "%2x", &b) != 1)
      die("bad hex");
    out[i] = (__u8)b;
  }
  return n;
}

static void print_hex(const __u8 *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    printf("%02x", p[i]);
}

/* Splits "k=v" fields of one line; `fields` keeps pointers into `line`. */
struct fields {
  int n;
  char *k[32], *v[32];
};

static void split(char *line, struct fields *f)
{
  f->n = 0;
  for (char *tok = strtok(line, " \t\n"); tok && f->n < 32; tok = strtok(NULL, " \t\n")) {
    char *eq = strchr(tok, '=');
    if (!eq)
      die("field without '=': %s", tok);
    *eq = 0;
    f->k[f->n] = tok;
    f->v[f->n++] = eq + 1;
  }
}

static const char *get(const struct fields *f, const char *k)
{
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->k[i], k))
      return f->v[i];
  return NULL;
}

static unsigned long num(const struct fields *f, const char *k, unsigned long dflt)
{
  const char *v = get(f, k);
  return v ? strtoul(v, NULL, 0) : dflt;
}

static void add_pod(int map, const struct fields *f, __u32 *ifindex)
{
  struct podnet_pod_addrs pod;
  memset(&pod, 0, sizeof(pod));
  *ifindex = (__u32)num(f, "if", 0);
  parse_mac(get(f, "mac") ? get(f, "mac") : "00:00:00:00:00:00", pod.mac);
  for (int i = 0; i < f->n; i++) {
    if (!strcmp(f->k[i], "v4") && pod.n_v4 < PODNET_POD_MAX_V4) {
      __u8 a[16];
      parse_addr(f->v[i], a);
      memcpy(pod.v4[pod.n_v4++], a, 4);
    } else if (!strcmp(f->k[i], "v6") && pod.n_v6 < PODNET_POD_MAX_V6) {
      parse_addr(f->v[i], pod.v6[pod.n_v6++]);
    }
  }
  if (bpf_map_update_elem(map, ifindex, &pod, BPF_ANY))
    die("pod update: %s", strerror(errno));
}

static void add_flow(int map, const struct fields *f, struct podnet_flow_key *key)
{
  struct podnet_flow_value v;
  memset(key, 0, sizeof(*key));
  memset(&v, 0, sizeof(v));
  key->ifindex = (__u32)num(f, "if", 0);
  key->proto = (__u8)num(f, "proto", 6);
  key->family = (__u8)parse_addr(get(f, "src"), key->saddr);
  parse_addr(get(f, "dst"), key->daddr);
  key->sport = htons((__u16)num(f, "sport", 0));
  key->dport = htons((__u16)num(f, "dport", 0));
  if (get(f, "new_src")) {
    parse_addr(get(f, "new_src"), v.new_saddr);
    v.rewrite |= PODNET_RW_SADDR;
  }
  if (get(f, "new_dst")) {
    parse_addr(get(f, "new_dst"), v.new_daddr);
    v.rewrite |= PODNET_RW_DADDR;
  }
  if (get(f, "new_sport")) {
    v.new_sport = htons((__u16)num(f, "new_sport", 0));
    v.rewrite |= PODNET_RW_SPORT;
  }
  if (get(f, "new_dport")) {
    v.new_dport = htons((__u16)num(f, "new_dport", 0));
    v.rewrite |= PODNET_RW_DPORT;
  }
  if (get(f, "dmac")) {
    parse_mac(get(f, "dmac"), v.dst_mac);
    parse_mac(get(f, "smac") ? get(f, "smac") : "00:00:00:00:00:00", v.src_mac);
    v.rewrite |= PODNET_RW_MACS;
  }
  const char *act = get(f, "action") ? get(f, "action") : "pass";
  v.action = !strcmp(act, "peer") ? PODNET_ACT_REDIRECT_PEER
             : !strcmp(act, "neigh") ? PODNET_ACT_REDIRECT_NEIGH
             : !strcmp(act, "fib")   ? PODNET_ACT_REDIRECT_FIB
                                     : PODNET_ACT_PASS;
  v.target_ifindex = (__u32)num(f, "target", 0);
  if (get(f, "nh"))
    v.nh_family = (__u8)parse_addr(get(f, "nh"), v.nexthop);
  v.mtu = (__u16)num(f, "mtu", 0);
  v.flags = (__u8)num(f, "flags", 0);
  v.flow_id = num(f, "id", 0);
  if (bpf_map_update_elem(map, key, &v, BPF_NOEXIST))
    die("flow update: %s", strerror(errno));
}

static void run(int prog, const struct fields *f, int index)
{
  static __u8 in[MAX_PKT], out[MAX_PKT];
  const char *hex = get(f, "pkt");
  if (!hex)
    die("run without pkt=");
  size_t n = parse_hex(hex, in, sizeof(in));
  struct __sk_buff ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.ingress_ifindex = (__u32)num(f, "if", 0);
  ctx.gso_size = (__u32)num(f, "gso_size", 0);
  ctx.gso_segs = (__u32)num(f, "gso_segs", 0);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (__u32)n, .data_out = out,
              .data_size_out = sizeof(out), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
  if (bpf_prog_test_run_opts(prog, &opts)) {
    /* the kernel refuses some frames before the program runs (e.g. an IPv4 ethertype
     * without a whole IPv4 header): reported, not fatal, so a test can pin that down */
    printf("{\"run\":%d,\"error\":\"%s\"}\n", index, strerror(errno));
    return;
  }
  printf("{\"run\":%d,\"retval\":%d,\"packet\":\"", index, (int)opts.retval);
  print_hex(out, opts.data_size_out);
  printf("\"}\n");
}

/* Sums a per-CPU map value of `words` __u64 counters into `sum`. */
static int percpu_sum(int map, const void *key, __u64 *sum, int words)
{
  int cpus = libbpf_num_possible_cpus();
  __u64 *vals = calloc((size_t)cpus * (size_t)words, sizeof(__u64));
  if (!vals)
    die("out of memory");
  int err = bpf_map_lookup_elem(map, key, vals);
  memset(sum, 0, sizeof(__u64) * (size_t)words);
  for (int c = 0; !err && c < cpus; c++)
    for (int w = 0; w < words; w++)
      sum[w] += vals[c * words + w];
  free(vals);
  return err;
}

static void report(int flows, int stats, int spoof, const struct podnet_flow_key *keys, int nkeys,
                   const __u32 *pods, int npods)
{
  printf("{\"stats\":{");
  for (__u32 i = 0; i < PODNET_STAT_MAX; i++) {
    __u64 v;
    percpu_sum(stats, &i, &v, 1);
    printf("%s\"%s\":%llu", i ? "," : "", stat_names[i], (unsigned long long)v);
  }
  printf("}}\n");
  for (int i = 0; i < nkeys; i++) {
    struct podnet_flow_value v;
    if (bpf_map_lookup_elem(flows, &keys[i], &v)) {
      printf("{\"flow\":%d,\"missing\":true}\n", i);
      continue;
    }
    printf("{\"flow\":%d,\"id\":%llu,\"packets\":%llu,\"bytes\":%llu,\"tcp_flags\":%u,\"last_seen_ns\":%llu}\n", i,
           (unsigned long long)v.flow_id, (unsigned long long)v.packets, (unsigned long long)v.bytes, v.tcp_flags,
           (unsigned long long)v.last_seen_ns);
  }
  for (int i = 0; i < npods; i++) {
    __u64 d[PODNET_SPOOF_MAX];
    int err = percpu_sum(spoof, &pods[i], d, PODNET_SPOOF_MAX);
    printf("{\"spoof\":%u", pods[i]);
    for (int r = 0; r < PODNET_SPOOF_MAX; r++)
      printf(",\"%s\":%llu", spoof_names[r], err ? 0ULL : (unsigned long long)d[r]);
    printf("}\n");
  }
}

static int find_map(struct bpf_object *obj, const char *name)
{
  struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
  if (!m)
    die("map %s not in the object", name);
  return bpf_map__fd(m);
}

int main(int argc, char **argv)
{
  if (argc != 2)
    die("usage: testrun OBJ < script");
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj)
    die("open %s: %s", argv[1], strerror(errno));
  if (bpf_object__load(obj))
    die("load %s: %s (the verifier log is above)", argv[1], strerror(errno));
  struct bpf_program *p = bpf_object__find_program_by_name(obj, PODNET_PROG_NAME);
  if (!p)
    die("program %s not in the object", PODNET_PROG_NAME);
  int prog = bpf_program__fd(p);
  struct bpf_prog_info info;
  __u32 info_len = sizeof(info);
  memset(&info, 0, sizeof(info));
  if (!bpf_obj_get_info_by_fd(prog, &info, &info_len))
    printf("{\"prog\":{\"verified_insns\":%u,\"xlated_bytes\":%u,\"jited_bytes\":%u}}\n", info.verified_insns,
           info.xlated_prog_len, info.jited_prog_len);
  int flows = find_map(obj, PODNET_MAP_FLOWS_NAME), pods_map = find_map(obj, PODNET_MAP_PODS_NAME);
  int stats = find_map(obj, PODNET_MAP_STATS_NAME), spoof = find_map(obj, PODNET_MAP_SPOOF_NAME);

  static struct podnet_flow_key keys[MAX_FLOWS];
  __u32 pods[MAX_PODS];
  int nkeys = 0, npods = 0, runs = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    char *end = line + len;
    char *cmd = strtok(line, " \t\n");
    if (!cmd || cmd[0] == '#')
      continue;
    char *rest = cmd + strlen(cmd) + 1;
    struct fields f;
    split(rest < end ? rest : end, &f);
    if (!strcmp(cmd, "pod") && npods < MAX_PODS)
      add_pod(pods_map, &f, &pods[npods++]);
    else if (!strcmp(cmd, "flow") && nkeys < MAX_FLOWS)
      add_flow(flows, &f, &keys[nkeys++]);
    else if (!strcmp(cmd, "run"))
      run(prog, &f, runs++);
    else
      die("unknown command %s", cmd);
  }
  free(line);
  report(flows, stats, spoof, keys, nkeys, pods, npods);
  bpf_object__close(obj);
  return 0;
}
