/* Shared between the BPF programs (netfault.bpf.c) and rebound's injectors: one fault's configuration.
 * Addresses are in network byte order, ports in host byte order. */
#ifndef REBOUND_NETFAULT_H
#define REBOUND_NETFAULT_H

#include <linux/types.h>

#define NETFAULT_MAX_CIDRS 16
#define NETFAULT_MAX_PORTS 16
#define NETFAULT_MAX_DNS_NAME 128
#define NETFAULT_MAX_TARGET_SOCKETS 65536 /* sockets a process target held before the step */
#define NETFAULT_MAX_CONTROL 4 /* connections an interface fault leaves alone by name (SSH_CONNECTION) */

enum netfault_action {
  NETFAULT_DROP = 1,       /* loss and partition */
  NETFAULT_CORRUPT = 2,    /* flip payload bits, keep the L4 checksum valid */
  NETFAULT_DUPLICATE = 3,  /* clone the packet */
  NETFAULT_POLICE = 4,     /* token bucket: drop what exceeds the rate */
  NETFAULT_DNS = 5,        /* DNS queries for matching names: drop, or answer with an error code */
  NETFAULT_REFUSE = 6,     /* connect() fails with an errno (cgroup connect hooks) */
  NETFAULT_STEER = 7,      /* TCP connects go to rebound's proxy instead (cgroup connect hooks + sock_ops) */
};

struct netfault_cidr {
  __u8 family; /* 4 or 6 */
  __u8 prefix;
  __u8 pad[2];
  __u32 addr[4]; /* IPv4 uses addr[0] */
};

/* One TCP connection, from this host's side: a tc program leaves its packets alone in both directions. */
struct netfault_conn {
  __u8 family; /* 4 or 6 */
  __u8 pad;
  __u16 local_port;  /* host order */
  __u16 remote_port; /* host order */
  __u16 pad2;
  __u32 local[4];    /* IPv4 uses [0] */
  __u32 remote[4];
};

struct netfault_config {
  __u32 action;
  __u32 probability;  /* a matching packet is affected when bpf_get_prandom_u32() < probability; 0xffffffff: always */
  __u32 protocol;     /* 0: any; else IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
  __u32 directions;   /* bit 0: ingress, bit 1: egress */
  __u32 n_cidrs;      /* 0: any peer */
  struct netfault_cidr cidrs[NETFAULT_MAX_CIDRS];
  __u32 n_ports;      /* 0: any port */
  __u16 ports[NETFAULT_MAX_PORTS];
  __u64 rate_bytes_per_sec; /* at most NETFAULT_MAX_RATE */
  __u64 burst_bytes;        /* at most NETFAULT_MAX_BURST */
  __u64 fill_ns;            /* time to refill the bucket from a full debt: longer idle periods add nothing more */
  __u32 l2_len;       /* tc: bytes before the IP header on this device: 14 (Ethernet, loopback) or 0 (tun, raw IP) */
  __s32 refuse_errno;
  __u32 dns_rcode;    /* 0: drop the query (the client times out); 2: SERVFAIL; 3: NXDOMAIN */
  __u32 dns_suffix;   /* 1: the pattern matches the name and any name below it */
  __u32 dns_name_len; /* the pattern in DNS wire format (length-prefixed labels, lower case, no final 0) */
  __u8 dns_name[NETFAULT_MAX_DNS_NAME];
  /* tc only: the operator's way in, never touched unless the step says include_control = true. */
  __u32 control_port; /* TCP packets whose local port this is (22: sshd), both directions; 0: none */
  __u32 n_control;
  struct netfault_conn control[NETFAULT_MAX_CONTROL];
};

struct netfault_stats {
  __u64 seen;     /* packets (or connects) the program looked at */
  __u64 matched;  /* that matched the filters */
  __u64 affected; /* that the fault changed */
  __u64 unparsed; /* IP packets (seen) whose headers the program could not read: never matched */
  __u64 excluded; /* tc: packets of the operator's connections (control_port, control[]), let through */
};

/* Where steered connects go, and who is never steered. */
struct netfault_steer {
  __u16 proxy_port4;  /* host order; 0: IPv4 connects are not steered */
  __u16 proxy_port6;  /* host order; 0: IPv6 connects are not steered */
  __u32 self_tgid;    /* rebound itself: its own connects go where they were meant to */
  __u64 netns_cookie; /* only sockets of this network namespace (the proxy's) are steered */
};

/* A steered connection's original destination, keyed first by socket cookie (connect hook), then by the
 * client's own port (sock_ops, once the port is bound), which is what the proxy sees as the peer port. */
struct netfault_origin {
  __u32 family;   /* 4 or 6: the destination's */
  __u32 port;     /* host order */
  __u32 addr[4];
  __u32 listener; /* 4 or 6: the proxy listener the connect was sent to (an IPv4-mapped IPv6 connect goes to 4) */
};
struct netfault_steer_key {
  __u32 family;
  __u32 port; /* the client's local port, host order */
};

#define NETFAULT_DIR_INGRESS 1u
#define NETFAULT_DIR_EGRESS 2u
/* A clone made by network.duplicate carries these words in skb->cb[0..3] (the qdisc's scratch area, which
 * skb_clone copies and nothing clears before the clone re-enters the hook), so it is not cloned again.
 * skb->mark is left alone: firewalls and policy routing own it. */
#define NETFAULT_CLONE_CB0 0x7265626fu
#define NETFAULT_CLONE_CB1 0x756e6421u
#define NETFAULT_CLONE_CB2 0x636c6f6eu
#define NETFAULT_CLONE_CB3 0x65a5c3e1u

/* Limits of the token bucket: nano-bytes (bytes x 1e9) of a full bucket and of a full debt, plus one
 * refill, stay below 2^63. */
#define NETFAULT_MAX_RATE 12500000000ull /* bytes per second: 100 gbit */
#define NETFAULT_MAX_BURST 1073741824ull /* bytes: 1 GiB */

#endif
