/* Placeholder translation unit for the libraries mediasoup links whole; the build script copies it into each subproject (meson keeps subprojects sandboxed). */
int parley_placeholder_symbol(void);
