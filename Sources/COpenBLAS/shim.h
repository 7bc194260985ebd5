// OpenBLAS (Debian libopenblas-dev, pthread build): CBLAS plus the thread and core queries.
#include <cblas.h>
