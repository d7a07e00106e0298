/* hotwrap never resolves a host or service name: it serves a unix socket or stdio. libevent's
 * evutil.o references getaddrinfo and friends all the same, and in a static glibc binary those
 * drag in NSS and the dynamic loader (about 150 KB, and link warnings about needing the shared
 * libraries at run time). These definitions take their place and fail like an unknown name. */
#include <netdb.h>
#include <stddef.h>

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res) {
  (void)node;
  (void)service;
  (void)hints;
  *res = NULL;
  return EAI_FAIL;
}

void freeaddrinfo(struct addrinfo* res) {
  (void)res;
}

const char* gai_strerror(int err) {
  (void)err;
  return "name resolution is not available in hotwrap";
}

int getnameinfo(const struct sockaddr* addr, socklen_t addrlen, char* host, socklen_t hostlen,
                char* serv, socklen_t servlen, int flags) {
  (void)addr;
  (void)addrlen;
  (void)host;
  (void)hostlen;
  (void)serv;
  (void)servlen;
  (void)flags;
  return EAI_FAIL;
}

struct servent* getservbyname(const char* name, const char* proto) {
  (void)name;
  (void)proto;
  return NULL;
}

struct protoent* getprotobynumber(int proto) {
  (void)proto;
  return NULL;
}
