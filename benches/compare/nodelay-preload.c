/* An LD_PRELOAD shim that sets TCP_NODELAY on every accepted socket: how the reference server would
 * behave with Nagle's algorithm off, without changing it (benches/RESULTS.md, "What the profiles
 * showed"). Build and use:
 *
 *   gcc -O2 -shared -fPIC -o /tmp/nodelay.so benches/compare/nodelay-preload.c -ldl
 *   LD_PRELOAD=/tmp/nodelay.so reference-server ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static int on(int fd){ if(fd>=0){int one=1; setsockopt(fd,IPPROTO_TCP,TCP_NODELAY,&one,sizeof one);} return fd; }
int accept4(int s, struct sockaddr *a, socklen_t *l, int f){ static int (*r)(int,struct sockaddr*,socklen_t*,int); if(!r) r=dlsym(RTLD_NEXT,"accept4"); return on(r(s,a,l,f)); }
int accept(int s, struct sockaddr *a, socklen_t *l){ static int (*r)(int,struct sockaddr*,socklen_t*); if(!r) r=dlsym(RTLD_NEXT,"accept"); return on(r(s,a,l)); }
