// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* rebound's network faults. One object per fault step; rebound loads only the programs the step needs:
 *   tc ingress/egress (interface scope, attached through netlink: honours a deadline kept alive by rebound),
 *   cgroup_skb ingress/egress (process-tree scope, attached with links the kernel drops when rebound dies),
 *   cgroup connect4/connect6 (network.refuse),
 *   cgroup connect4/connect6 + sock_ops (steering a process tree's TCP connects into rebound's proxy).
 * The configuration lives in .bss so rebound writes it, and extends the deadline, through the skeleton. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netfault.h"

#ifndef SOCK_STREAM
#define SOCK_STREAM 1
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

struct netfault_config cfg = {};
__u64 deadline_ns = 0; /* CLOCK_MONOTONIC; 0: none. Past it every program lets everything through. */
/* 0: switched off, every packet and connect program lets everything through without counting. A step
 * attaches its programs switched off before the method starts; its start is then one store to this word. */
__u32 armed = 1;
struct netfault_stats stats = {};
struct netfault_steer steer = {};

#ifndef IPPROTO_HOPOPTS
#define IPPROTO_HOPOPTS 0
#endif
#ifndef IPPROTO_ROUTING
#define IPPROTO_ROUTING 43
#endif
#ifndef IPPROTO_FRAGMENT
#define IPPROTO_FRAGMENT 44
#endif
#ifndef IPPROTO_DSTOPTS
#define IPPROTO_DSTOPTS 60
#endif
#define NS_PER_SEC 1000000000ll

/* One token bucket per direction. Tokens are counted in nano-bytes (bytes x 1e9), so that the time between
 * two packets always adds its exact share of the rate: at a million packets a second a packet's share is
 * a fraction of a byte, which whole-byte tokens would lose every time. */
struct bucket {
  struct bpf_spin_lock lock;
  __s64 tokens; /* nano-bytes; may go down to -burst: a debt that senders are told to slow down for */
  __u64 last_ns;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2); /* 0: ingress, 1: egress */
  __type(key, __u32);
  __type(value, struct bucket);
} buckets SEC(".maps");

struct packet {
  __u8 family;
  __u8 proto;
  __u16 peer_port; /* host order; 0 when there is none */
  __u16 local_port; /* host order; 0 when there is none */
  __u32 peer[4];
  __u32 local[4];
  __u32 l3_off;
  __u32 l4_off;
  __u32 payload_off; /* 0 when not TCP or UDP */
};

static __always_inline int expired(void) {
  return !armed || (deadline_ns && bpf_ktime_get_ns() > deadline_ns);
}

static __always_inline int chance(void) {
  return cfg.probability == 0xffffffffu || bpf_get_prandom_u32() < cfg.probability;
}

struct ip6_frag {
  __u8 nexthdr;
  __u8 reserved;
  __be16 frag_off; /* offset in 8-byte units in the top 13 bits */
  __be32 id;
};

/* Walks IPv6 extension headers (hop-by-hop, routing, destination options, fragment, AH) from `off` to the
 * upper-layer header: its protocol and offset. `later` is set for a fragment other than the first, which
 * carries no L4 header. -1 when a header cannot be read or the chain is longer than rebound follows. */
static __always_inline int ipv6_upper(struct __sk_buff *skb, __u8 next, __u32 off, struct packet *p, int *later) {
  for (int i = 0; i < 8; i++) {
    if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS || next == IPPROTO_AH) {
      __u8 h[2];
      if (bpf_skb_load_bytes(skb, off, h, 2)) return -1;
      /* AH's length counts 4-byte units minus 2, the others' 8-byte units minus 1 */
      off += next == IPPROTO_AH ? ((__u32)h[1] + 2) * 4 : ((__u32)h[1] + 1) * 8;
      next = h[0];
      continue;
    }
    if (next == IPPROTO_FRAGMENT) {
      struct ip6_frag f;
      if (bpf_skb_load_bytes(skb, off, &f, sizeof(f))) return -1;
      if (f.frag_off & bpf_htons(0xfff8)) *later = 1;
      next = f.nexthdr;
      off += sizeof(f);
      continue;
    }
    p->proto = next;
    p->l4_off = off;
    return 0;
  }
  return -1;
}

/* Fills p from the IP header at l3_off; peer is the remote end for this direction. */
static __always_inline int parse(struct __sk_buff *skb, __u32 l3_off, int egress, struct packet *p) {
  __u8 version = 0;
  if (bpf_skb_load_bytes(skb, l3_off, &version, 1)) return -1;
  version >>= 4;
  p->l3_off = l3_off;
  if (version == 4) {
    struct iphdr ip;
    if (bpf_skb_load_bytes(skb, l3_off, &ip, sizeof(ip))) return -1;
    if (ip.ihl < 5) return -1;
    p->family = 4;
    p->proto = ip.protocol;
    p->peer[0] = egress ? ip.daddr : ip.saddr;
    p->local[0] = egress ? ip.saddr : ip.daddr;
    p->l4_off = l3_off + ip.ihl * 4;
    if (ip.frag_off & bpf_htons(0x1fff)) return 0; /* a later fragment: no ports */
  } else if (version == 6) {
    struct ipv6hdr ip6;
    if (bpf_skb_load_bytes(skb, l3_off, &ip6, sizeof(ip6))) return -1;
    p->family = 6;
    __builtin_memcpy(p->peer, egress ? ip6.daddr.in6_u.u6_addr32 : ip6.saddr.in6_u.u6_addr32, 16);
    __builtin_memcpy(p->local, egress ? ip6.saddr.in6_u.u6_addr32 : ip6.daddr.in6_u.u6_addr32, 16);
    int later = 0;
    if (ipv6_upper(skb, ip6.nexthdr, l3_off + sizeof(ip6), p, &later)) return -1;
    if (later) return 0; /* a later fragment: no ports */
  } else {
    return -1;
  }
  if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
    __u16 ports[2];
    if (bpf_skb_load_bytes(skb, p->l4_off, ports, sizeof(ports))) return -1;
    p->peer_port = bpf_ntohs(egress ? ports[1] : ports[0]);
    p->local_port = bpf_ntohs(egress ? ports[0] : ports[1]);
    if (p->proto == IPPROTO_UDP) {
      p->payload_off = p->l4_off + sizeof(struct udphdr);
    } else {
      __u8 doff = 0;
      if (bpf_skb_load_bytes(skb, p->l4_off + 12, &doff, 1)) return -1;
      p->payload_off = p->l4_off + (doff >> 4) * 4;
    }
  }
  return 0;
}

static __always_inline int prefix_match(const __u32 *net, const __u32 *addr, __u32 prefix, int words) {
  for (int i = 0; i < 4; i++) {
    if (i >= words) break;
    __u32 bits = prefix > 32 ? 32 : prefix;
    prefix -= bits;
    if (bits == 0) break;
    __u32 mask = bits == 32 ? 0xffffffffu : bpf_htonl(~((1u << (32 - bits)) - 1));
    if ((net[i] & mask) != (addr[i] & mask)) return 0;
  }
  return 1;
}

static __always_inline int matches(const struct packet *p) {
  if (cfg.protocol) {
    int icmp = cfg.protocol == IPPROTO_ICMP && p->proto == IPPROTO_ICMPV6;
    if (p->proto != cfg.protocol && !icmp) return 0;
  }
  if (cfg.n_ports) {
    int found = 0;
    for (int i = 0; i < NETFAULT_MAX_PORTS; i++) {
      if (i >= cfg.n_ports) break;
      if (cfg.ports[i] == p->peer_port) {
        found = 1;
        break;
      }
    }
    if (!found) return 0;
  }
  if (cfg.n_cidrs) {
    int found = 0;
    for (int i = 0; i < NETFAULT_MAX_CIDRS; i++) {
      if (i >= cfg.n_cidrs) break;
      const struct netfault_cidr *c = &cfg.cidrs[i];
      if (c->family != p->family) continue;
      if (prefix_match(c->addr, p->peer, c->prefix, p->family == 4 ? 1 : 4)) {
        found = 1;
        break;
      }
    }
    if (!found) return 0;
  }
  return 1;
}

static __always_inline int same_addr(const __u32 *a, const __u32 *b, int words) {
  for (int i = 0; i < 4; i++) {
    if (i >= words) break;
    if (a[i] != b[i]) return 0;
  }
  return 1;
}

/* 1 for a packet of the operator's way in (their SSH session, any connection to the local sshd port), which
 * an interface fault lets through unless the step says include_control = true (then rebound leaves these empty). */
static __always_inline int is_control(const struct packet *p) {
  if (p->proto != IPPROTO_TCP || !p->local_port) return 0;
  if (cfg.control_port && p->local_port == cfg.control_port) return 1;
  for (int i = 0; i < NETFAULT_MAX_CONTROL; i++) {
    if (i >= cfg.n_control) break;
    const struct netfault_conn *c = &cfg.control[i];
    if (c->family != p->family || c->local_port != p->local_port || c->remote_port != p->peer_port) continue;
    int words = p->family == 4 ? 1 : 4;
    if (same_addr(c->local, p->local, words) && same_addr(c->remote, p->peer, words)) return 1;
  }
  return 0;
}

/* IPv6 neighbour discovery (router and neighbour solicitations and advertisements, redirects: ICMPv6 133-137),
 * which the operator's IPv6 connections need as IPv4 ones need ARP (never seen here: it is not IP). */
static __always_inline int is_ndp(struct __sk_buff *skb, const struct packet *p) {
  if (p->family != 6 || p->proto != IPPROTO_ICMPV6) return 0;
  __u8 type = 0;
  if (bpf_skb_load_bytes(skb, p->l4_off, &type, 1)) return 0;
  return type >= 133 && type <= 137;
}

/* A token bucket shared by every CPU. 0: within the rate. 1: over it, but within a debt of one burst
 * (the caller may pass it while telling the sender to slow down). 2: over the rate and the debt: drop. */
#define RATE_OK 0
#define RATE_DEBT 1
#define RATE_OVER 2
static __always_inline int over_rate(__u32 len, int egress) {
  __u32 key = egress ? 1 : 0;
  struct bucket *b = bpf_map_lookup_elem(&buckets, &key);
  if (!b) return RATE_OK;
  __u64 now = bpf_ktime_get_ns();
  /* rebound bounds rate and burst (NETFAULT_MAX_RATE, NETFAULT_MAX_BURST) and fill_ns to the time from a full
   * debt to a full bucket, so that every sum below stays under 2^63. */
  __s64 burst = (__s64)cfg.burst_bytes * NS_PER_SEC;
  __s64 cost = (__s64)len * NS_PER_SEC;
  int verdict = RATE_OK;
  bpf_spin_lock(&b->lock);
  if (b->last_ns == 0) {
    b->tokens = burst;
    b->last_ns = now;
  }
  __u64 elapsed = now > b->last_ns ? now - b->last_ns : 0;
  if (elapsed > cfg.fill_ns) elapsed = cfg.fill_ns;
  b->last_ns = now; /* exact: the whole elapsed time is credited below, nothing is rounded away */
  __s64 tokens = b->tokens + (__s64)(elapsed * cfg.rate_bytes_per_sec);
  if (tokens > burst) tokens = burst;
  if (tokens >= cost) {
    tokens -= cost;
  } else if (tokens - cost >= -burst) {
    tokens -= cost;
    verdict = RATE_DEBT;
  } else {
    verdict = RATE_OVER;
  }
  b->tokens = tokens;
  bpf_spin_unlock(&b->lock);
  return verdict;
}

/* Flips the bits of one 16-bit word of the L4 payload and keeps the L4 checksum consistent,
 * so the damaged bytes reach the receiving application instead of being dropped by its stack. */
static __always_inline int corrupt(struct __sk_buff *skb, const struct packet *p) {
  if (!p->payload_off || skb->len < p->payload_off + 2) return 0;
  __u32 room = (skb->len - p->payload_off) & ~1u;
  if (room < 2) return 0;
  __u32 offset = p->payload_off + ((bpf_get_prandom_u32() % room) & ~1u);
  __u16 old_word = 0;
  if (bpf_skb_load_bytes(skb, offset, &old_word, 2)) return 0;
  __u16 flip = (__u16)(bpf_get_prandom_u32() | 1);
  __u16 new_word = old_word ^ flip;
  __u32 csum_off = p->l4_off + (p->proto == IPPROTO_TCP ? 16 : 6);
  if (bpf_skb_store_bytes(skb, offset, &new_word, 2, 0)) return 0;
  bpf_l4_csum_replace(skb, csum_off, old_word, new_word, 2 | (p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0));
  return 1;
}

/* 1 when the DNS query in the packet asks for a name the pattern matches. Reads byte by byte: the
 * verifier proves fixed-size loads easily, variable-length ones hardly. */
static __always_inline int load_byte(struct __sk_buff *skb, __u32 offset) {
  __u8 b = 0;
  if (bpf_skb_load_bytes(skb, offset, &b, 1)) return -1;
  return b;
}

static __always_inline int dns_name_matches(struct __sk_buff *skb, const struct packet *p) {
  const __u32 start = p->payload_off + 12; /* the question follows the 12-byte header */
  /* Walk the labels: where the name ends, and which offsets start a label. */
  __u64 starts_lo = 0, starts_hi = 0;
  __u32 pos = 0;
  int ended = 0;
  for (int i = 0; i < 64; i++) {
    if (pos >= NETFAULT_MAX_DNS_NAME) return 0;
    int len = load_byte(skb, start + pos);
    if (len < 0 || len > 63) return 0; /* compression pointers do not occur in questions */
    if (len == 0) {
      ended = 1;
      break;
    }
    if (pos < 64) starts_lo |= 1ull << pos;
    else starts_hi |= 1ull << ((pos - 64) & 63);
    pos += 1 + len;
  }
  if (!ended) return 0;
  __u32 want = cfg.dns_name_len;
  if (want == 0 || want > pos || want > NETFAULT_MAX_DNS_NAME) return 0;
  __u32 from = pos - want;
  if (from != 0) {
    if (!cfg.dns_suffix) return 0;
    int boundary = from < 64 ? (starts_lo >> from) & 1 : (starts_hi >> ((from - 64) & 63)) & 1;
    if (!boundary) return 0;
  }
  for (int i = 0; i < NETFAULT_MAX_DNS_NAME; i++) {
    if (i >= want) break;
    int c = load_byte(skb, start + from + i);
    if (c < 0) return 0;
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    if (c != cfg.dns_name[i & (NETFAULT_MAX_DNS_NAME - 1)]) return 0;
  }
  return 1;
}

/* Turns the query into an answer with cfg.dns_rcode and sends it back in on the same interface. */
static __always_inline int dns_answer(struct __sk_buff *skb, const struct packet *p) {
  if (cfg.l2_len) {
    __u8 macs[12], swapped[12];
    if (bpf_skb_load_bytes(skb, 0, macs, 12)) return TC_ACT_UNSPEC;
    __builtin_memcpy(swapped, macs + 6, 6);
    __builtin_memcpy(swapped + 6, macs, 6);
    bpf_skb_store_bytes(skb, 0, swapped, 12, 0);
  }
  if (p->family == 4) {
    __u32 addrs[2], back[2];
    if (bpf_skb_load_bytes(skb, p->l3_off + 12, addrs, 8)) return TC_ACT_UNSPEC;
    back[0] = addrs[1];
    back[1] = addrs[0];
    bpf_skb_store_bytes(skb, p->l3_off + 12, back, 8, 0); /* the IP checksum is a sum: a swap keeps it */
  } else {
    __u32 addrs[8], back[8];
    if (bpf_skb_load_bytes(skb, p->l3_off + 8, addrs, 32)) return TC_ACT_UNSPEC;
    __builtin_memcpy(back, addrs + 4, 16);
    __builtin_memcpy(back + 4, addrs, 16);
    bpf_skb_store_bytes(skb, p->l3_off + 8, back, 32, 0);
  }
  __u16 ports[2], rports[2];
  if (bpf_skb_load_bytes(skb, p->l4_off, ports, 4)) return TC_ACT_UNSPEC;
  rports[0] = ports[1];
  rports[1] = ports[0];
  bpf_skb_store_bytes(skb, p->l4_off, rports, 4, 0);
  __u16 flags = 0;
  if (bpf_skb_load_bytes(skb, p->payload_off + 2, &flags, 2)) return TC_ACT_UNSPEC;
  __u16 answer = bpf_htons((bpf_ntohs(flags) & 0x7900) | 0x8080 | (cfg.dns_rcode & 0xf)); /* QR, RA, rcode */
  bpf_skb_store_bytes(skb, p->payload_off + 2, &answer, 2, 0);
  bpf_l4_csum_replace(skb, p->l4_off + 6, flags, answer, 2 | BPF_F_MARK_MANGLED_0);
  return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* Where the IP header starts, from the device's link layer (cfg.l2_len, which rebound reads from the device):
 * 14 (Ethernet, loopback): after the frame's EtherType, skipping up to two 802.1Q/802.1ad tags carried in the
 * frame (a tag the kernel holds out of band, as it does for every received frame, is not in the packet);
 * 0 (tun, WireGuard and other raw-IP devices): at once, of the kind skb->protocol says. Returns that kind
 * (an EtherType, network order), or 0 when the frame is too short to tell. */
static __always_inline __u16 l3_start(struct __sk_buff *skb, __u32 *l3_off) {
  if (!cfg.l2_len) {
    *l3_off = 0;
    return (__u16)skb->protocol;
  }
  __u32 off = 12;
  __u16 type = 0;
  for (int i = 0; i < 3; i++) {
    if (bpf_skb_load_bytes(skb, off, &type, 2)) return 0;
    if (type != bpf_htons(ETH_P_8021Q) && type != bpf_htons(ETH_P_8021AD)) break;
    off += 4;
  }
  *l3_off = off + 2;
  return type;
}

/* One 32-bit store per cb word straight through the context pointer: the verifier refuses stores through a
 * context pointer the compiler has moved, which it does for neighbouring words unless told otherwise. */
static __always_inline void set_cb(struct __sk_buff *skb, __u32 w0, __u32 w1, __u32 w2, __u32 w3) {
  *(volatile __u32 *)&skb->cb[0] = w0;
  *(volatile __u32 *)&skb->cb[1] = w1;
  *(volatile __u32 *)&skb->cb[2] = w2;
  *(volatile __u32 *)&skb->cb[3] = w3;
}

static __always_inline int is_our_clone(struct __sk_buff *skb) {
  return skb->cb[0] == NETFAULT_CLONE_CB0 && skb->cb[1] == NETFAULT_CLONE_CB1 && skb->cb[2] == NETFAULT_CLONE_CB2 &&
         skb->cb[3] == NETFAULT_CLONE_CB3;
}

/* Sends a copy of the packet out (or in) the same way; the original goes on unchanged, mark included. */
static __always_inline int duplicate(struct __sk_buff *skb, int egress) {
  __u32 s0 = skb->cb[0], s1 = skb->cb[1], s2 = skb->cb[2], s3 = skb->cb[3];
  set_cb(skb, NETFAULT_CLONE_CB0, NETFAULT_CLONE_CB1, NETFAULT_CLONE_CB2, NETFAULT_CLONE_CB3);
  int rc = bpf_clone_redirect(skb, skb->ifindex, egress ? 0 : BPF_F_INGRESS);
  set_cb(skb, s0, s1, s2, s3);
  return rc == 0;
}

static __always_inline int tc_fault(struct __sk_buff *skb, int egress) {
  if (expired()) return TC_ACT_UNSPEC;
  if (is_our_clone(skb)) { /* our own clone coming back through the hook: let it go, as a plain packet */
    set_cb(skb, 0, 0, 0, 0);
    return TC_ACT_UNSPEC;
  }
  if (!(cfg.directions & (egress ? NETFAULT_DIR_EGRESS : NETFAULT_DIR_INGRESS))) return TC_ACT_UNSPEC;
  __u32 l3_off = 0;
  __u16 kind = l3_start(skb, &l3_off);
  if (kind != bpf_htons(ETH_P_IP) && kind != bpf_htons(ETH_P_IPV6)) return TC_ACT_UNSPEC;
  __sync_fetch_and_add(&stats.seen, 1);
  struct packet p = {};
  if (parse(skb, l3_off, egress, &p)) {
    __sync_fetch_and_add(&stats.unparsed, 1);
    return TC_ACT_UNSPEC;
  }
  if (is_control(&p) || (cfg.control_port && is_ndp(skb, &p))) {
    __sync_fetch_and_add(&stats.excluded, 1);
    return TC_ACT_UNSPEC;
  }
  if (!matches(&p)) return TC_ACT_UNSPEC;
  if (cfg.action == NETFAULT_DNS && !(egress && p.proto == IPPROTO_UDP && p.peer_port == 53 && dns_name_matches(skb, &p)))
    return TC_ACT_UNSPEC;
  __sync_fetch_and_add(&stats.matched, 1);
  switch (cfg.action) {
    case NETFAULT_POLICE:
      if (over_rate(skb->len, egress) != RATE_OVER) return TC_ACT_UNSPEC; /* tc has no congestion signal: debt passes */
      __sync_fetch_and_add(&stats.affected, 1);
      return TC_ACT_SHOT;
    case NETFAULT_CORRUPT:
      if (chance() && corrupt(skb, &p)) __sync_fetch_and_add(&stats.affected, 1);
      return TC_ACT_UNSPEC;
    case NETFAULT_DUPLICATE:
      if (chance() && duplicate(skb, egress)) __sync_fetch_and_add(&stats.affected, 1);
      return TC_ACT_UNSPEC;
    case NETFAULT_DNS:
      if (!chance()) return TC_ACT_UNSPEC;
      __sync_fetch_and_add(&stats.affected, 1);
      return cfg.dns_rcode ? dns_answer(skb, &p) : TC_ACT_SHOT;
    default: /* NETFAULT_DROP */
      if (!chance()) return TC_ACT_UNSPEC;
      __sync_fetch_and_add(&stats.affected, 1);
      return TC_ACT_SHOT;
  }
}

SEC("tc")
int netfault_tc_ingress(struct __sk_buff *skb) { return tc_fault(skb, 0); }

SEC("tc")
int netfault_tc_egress(struct __sk_buff *skb) { return tc_fault(skb, 1); }

/* cgroup_skb sees the IP header at offset 0 and cannot change packets: drop, police, DNS timeout. */
static __always_inline int cgroup_fault(struct __sk_buff *skb, int egress) {
  if (expired()) return 1;
  if (!(cfg.directions & (egress ? NETFAULT_DIR_EGRESS : NETFAULT_DIR_INGRESS))) return 1;
  __sync_fetch_and_add(&stats.seen, 1);
  struct packet p = {};
  if (parse(skb, 0, egress, &p)) {
    __sync_fetch_and_add(&stats.unparsed, 1);
    return 1;
  }
  if (!matches(&p)) return 1;
  if (cfg.action == NETFAULT_DNS) {
    if (!(egress && p.proto == IPPROTO_UDP && p.peer_port == 53 && dns_name_matches(skb, &p))) return 1;
  }
  __sync_fetch_and_add(&stats.matched, 1);
  if (cfg.action == NETFAULT_POLICE) {
    int rate = over_rate(skb->len, egress);
    if (rate == RATE_OK) return 1;
    __sync_fetch_and_add(&stats.affected, 1);
    /* On egress the return value carries a congestion notification (bit 1) that makes TCP shrink its window
     * at once: 3 passes a packet in debt, 2 drops one over it. Ingress can only pass or drop. */
    if (egress) return rate == RATE_DEBT ? 3 : 2;
    return rate == RATE_DEBT ? 1 : 0;
  }
  if (!chance()) return 1;
  __sync_fetch_and_add(&stats.affected, 1);
  return 0;
}

SEC("cgroup_skb/ingress")
int netfault_cgroup_ingress(struct __sk_buff *skb) { return cgroup_fault(skb, 0); }

SEC("cgroup_skb/egress")
int netfault_cgroup_egress(struct __sk_buff *skb) { return cgroup_fault(skb, 1); }

/* Sockets a process target held before the step (cookies from sock_diag): they keep the cgroup they were
 * created in, so these programs sit on those cgroups and act only on the listed sockets, never on the
 * sockets of other processes there. The step's own cgroup covers the sockets made from now on. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETFAULT_MAX_TARGET_SOCKETS);
  __type(key, __u64);
  __type(value, __u8);
} target_sockets SEC(".maps");

static __always_inline int listed_socket_fault(struct __sk_buff *skb, int egress) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  if (!bpf_map_lookup_elem(&target_sockets, &cookie)) return 1;
  return cgroup_fault(skb, egress);
}

SEC("cgroup_skb/ingress")
int netfault_sockets_ingress(struct __sk_buff *skb) { return listed_socket_fault(skb, 0); }

SEC("cgroup_skb/egress")
int netfault_sockets_egress(struct __sk_buff *skb) { return listed_socket_fault(skb, 1); }

static __always_inline int refuse(struct bpf_sock_addr *ctx, const struct packet *p) {
  if (expired()) return 1;
  __sync_fetch_and_add(&stats.seen, 1);
  if (!matches(p)) return 1;
  __sync_fetch_and_add(&stats.matched, 1);
  if (!chance()) return 1;
  __sync_fetch_and_add(&stats.affected, 1);
  bpf_set_retval(cfg.refuse_errno ? -cfg.refuse_errno : -ECONNREFUSED);
  return 0;
}

SEC("cgroup/connect4")
int netfault_connect4(struct bpf_sock_addr *ctx) {
  struct packet p = {};
  p.family = 4;
  p.proto = ctx->protocol;
  p.peer[0] = ctx->user_ip4;
  p.peer_port = bpf_ntohs((__u16)ctx->user_port);
  return refuse(ctx, &p);
}

/* An IPv4-mapped destination (::ffff:a.b.c.d) on a dual-stack socket is an IPv4 connection: it is matched
 * against IPv4 peers, as steering does. */
static __always_inline int ipv4_mapped(struct bpf_sock_addr *ctx) {
  return ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == bpf_htonl(0xffff);
}

// The destination of a connect6 as the matchers see it: an IPv4-mapped address (::ffff:a.b.c.d) is IPv4.
static __always_inline void connect6_peer(struct bpf_sock_addr *ctx, struct packet *p, int mapped) {
  if (mapped) {
    p->family = 4;
    p->peer[0] = ctx->user_ip6[3];
  } else {
    p->family = 6;
    p->peer[0] = ctx->user_ip6[0];
    p->peer[1] = ctx->user_ip6[1];
    p->peer[2] = ctx->user_ip6[2];
    p->peer[3] = ctx->user_ip6[3];
  }
}

SEC("cgroup/connect6")
int netfault_connect6(struct bpf_sock_addr *ctx) {
  struct packet p = {};
  p.proto = ctx->protocol;
  p.peer_port = bpf_ntohs((__u16)ctx->user_port);
  connect6_peer(ctx, &p, ipv4_mapped(ctx));
  return refuse(ctx, &p);
}

/* Steering: the connect hook sends a matching TCP connect to rebound's listener on loopback and notes the
 * original destination under the socket's cookie; once the kernel has bound the client's port, sock_ops
 * files it under that port, which is all the proxy can see of the client. LRU maps: connects that never
 * reach the proxy age out by themselves. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct netfault_origin);
} steer_pending SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct netfault_steer_key);
  __type(value, struct netfault_origin);
} steer_origins SEC(".maps");

static __always_inline int steerable(struct bpf_sock_addr *ctx, const struct packet *p) {
  if (expired()) return 0; /* prepared, not yet switched on (or switched off): connects go where they were meant to */
  if (ctx->type != SOCK_STREAM || (ctx->protocol != IPPROTO_TCP && ctx->protocol != 0)) return 0;
  if ((__u32)(bpf_get_current_pid_tgid() >> 32) == steer.self_tgid) return 0;
  if (steer.netns_cookie && bpf_get_netns_cookie(ctx) != steer.netns_cookie) return 0;
  __sync_fetch_and_add(&stats.seen, 1);
  struct packet q = *p;
  q.proto = IPPROTO_TCP;
  if (!matches(&q)) return 0;
  __sync_fetch_and_add(&stats.matched, 1);
  return 1;
}

static __always_inline void note_origin(struct bpf_sock_addr *ctx, const struct packet *p, __u32 listener) {
  struct netfault_origin origin = {};
  origin.family = p->family;
  origin.listener = listener;
  origin.port = p->peer_port;
  __builtin_memcpy(origin.addr, p->peer, sizeof(origin.addr));
  __u64 cookie = bpf_get_socket_cookie(ctx);
  bpf_map_update_elem(&steer_pending, &cookie, &origin, BPF_ANY);
  __sync_fetch_and_add(&stats.affected, 1);
}

SEC("cgroup/connect4")
int netfault_steer4(struct bpf_sock_addr *ctx) {
  if (!steer.proxy_port4) return 1;
  struct packet p = {};
  p.family = 4;
  p.peer[0] = ctx->user_ip4;
  p.peer_port = bpf_ntohs((__u16)ctx->user_port);
  if (!steerable(ctx, &p)) return 1;
  note_origin(ctx, &p, 4);
  ctx->user_ip4 = bpf_htonl(0x7f000001); /* 127.0.0.1 */
  ctx->user_port = bpf_htons(steer.proxy_port4);
  return 1;
}

SEC("cgroup/connect6")
int netfault_steer6(struct bpf_sock_addr *ctx) {
  /* An IPv4-mapped address on a dual-stack socket (Java's default, for one) is an IPv4 connection in fact:
   * it is matched as IPv4 and sent to the IPv4 listener as ::ffff:127.0.0.1. */
  int mapped = ipv4_mapped(ctx);
  __u16 proxy_port = mapped ? steer.proxy_port4 : steer.proxy_port6;
  if (!proxy_port) return 1;
  struct packet p = {};
  p.peer_port = bpf_ntohs((__u16)ctx->user_port);
  connect6_peer(ctx, &p, mapped);
  if (!steerable(ctx, &p)) return 1;
  note_origin(ctx, &p, mapped ? 4 : 6);
  /* One store per field, outside the branches: the verifier refuses stores through a ctx pointer that the
   * compiler computed in one branch and reused in another. */
  __u32 word2 = mapped ? bpf_htonl(0xffff) : 0;
  __u32 word3 = mapped ? bpf_htonl(0x7f000001) : bpf_htonl(1); /* ::ffff:127.0.0.1 or ::1 */
  ctx->user_ip6[0] = 0;
  ctx->user_ip6[1] = 0;
  ctx->user_ip6[2] = word2;
  ctx->user_ip6[3] = word3;
  ctx->user_port = bpf_htons(proxy_port);
  return 1;
}

SEC("sockops")
int netfault_steer_ops(struct bpf_sock_ops *skops) {
  if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB) return 1;
  __u64 cookie = bpf_get_socket_cookie(skops);
  struct netfault_origin *origin = bpf_map_lookup_elem(&steer_pending, &cookie);
  if (!origin) return 1;
  struct netfault_steer_key key = {};
  key.family = origin->listener; /* the family the proxy accepts it with */
  key.port = skops->local_port;
  bpf_map_update_elem(&steer_origins, &key, origin, BPF_ANY);
  bpf_map_delete_elem(&steer_pending, &cookie);
  return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
