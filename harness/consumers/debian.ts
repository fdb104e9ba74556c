// A consumer that is a Debian binary package (sysdig): the package and its
// dependency closure make the guest image; nothing is built.
import type { Debian } from '../apt.js';
import { isUnavailable, SourceUnavailable } from '../errors.js';
import { guestImage } from '../images/guest.js';
import type { Arch, ConsumerAssets, ConsumerSpec } from '../types.js';

export async function debianSysdig(debian: Debian, deb: NonNullable<ConsumerSpec['debian']>, arch: Arch, extra: string[]): Promise<ConsumerAssets> {
  const image = await guestImage(debian, deb.suite, arch, [deb.package, ...extra]).catch((e: unknown) => {
    if (isUnavailable(e)) throw new SourceUnavailable(`${deb.package} is not in ${deb.suite} for ${arch}`);
    throw e;
  });
  const pkg = image.packages.find((p) => p.name === deb.package)!;
  return { image, files: {}, version: `${pkg.name}=${pkg.version}` };
}
