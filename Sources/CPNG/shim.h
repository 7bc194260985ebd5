// libpng simplified API. Format and size macros that Swift does not import are re-exported
// as inline functions.
#include <png.h>

static inline unsigned int cpng_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline unsigned int cpng_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline unsigned int cpng_image_version(void) { return PNG_IMAGE_VERSION; }
static inline int cpng_image_failed(const png_image *image) { return PNG_IMAGE_FAILED(*image); }
