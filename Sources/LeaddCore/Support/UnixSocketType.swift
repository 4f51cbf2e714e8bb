// The Unix stream socket type, named in one file that imports the C library itself: files that
// see the system headers only through a C module of their own (CSystemd) cannot count on finding
// SOCK_STREAM in a release (whole-module) build.
#if canImport(Glibc)
    import Glibc
#endif

enum UnixSocketType {
    static let stream = Int32(SOCK_STREAM.rawValue)
}
