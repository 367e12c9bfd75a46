import { nativeAddon } from "../../kernels/native-addon.js";

/**
 * Handing a connection accepted on the main thread to another thread's event loop: Node 20 cannot move a
 * socket between threads, so the loop gets a duplicate of its descriptor (the addon's `dupFd`).
 */
interface SocketFdExports {
  dupFd?(fd: number): number;
}

/** Whether this process can hand connections to other loops. */
export function canHandOffConnections(): boolean {
  return typeof (nativeAddon() as SocketFdExports | null)?.dupFd === "function";
}

/** A close-on-exec duplicate of `fd` (only when `canHandOffConnections()`). */
export function duplicateDescriptor(fd: number): number {
  return (nativeAddon() as SocketFdExports).dupFd!(fd);
}
