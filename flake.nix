# Builds yubin with cargo only, from Cargo.lock. Not evaluated in CI (no Nix on the build
# machine): kept small and correct by inspection.
{
  description = "yubin: a mail server appliance configured by one KDL file";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      packages = forAll (pkgs: rec {
        yubin = pkgs.rustPlatform.buildRustPackage {
          pname = "yubin";
          version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).package.version;
          src = ./.;
          cargoLock.lockFile = ./Cargo.lock;
          YUBIN_GIT_REV = self.shortRev or "dirty";
          # The integration tests start real mail servers; run them with .ci/run instead.
          doCheck = false;
          meta.mainProgram = "yubin";
        };
        default = yubin;
      });

      apps = forAll (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.system}.yubin}/bin/yubin";
        };
      });
    };
}
