# Builds yubin with cargo only, from Cargo.lock, and offers a NixOS module. Not evaluated in CI
# (no Nix on the build machine): kept small and correct by inspection.
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

      # services.yubin = { enable = true; configFile = ./mail.kdl; openFirewall = true; };
      # The configuration's `storage { data "/var/lib/yubin" }` should match StateDirectory.
      nixosModules.default = { config, lib, pkgs, ... }:
        let cfg = config.services.yubin;
        in {
          options.services.yubin = {
            enable = lib.mkEnableOption "the yubin mail server";
            package = lib.mkOption {
              type = lib.types.package;
              default = self.packages.${pkgs.system}.yubin;
              description = "The yubin package.";
            };
            configFile = lib.mkOption {
              type = lib.types.path;
              description = "The mail.kdl that describes the whole server.";
            };
            openFirewall = lib.mkOption {
              type = lib.types.bool;
              default = false;
              description = "Open 25, 465, 587, 993 and 995.";
            };
          };
          config = lib.mkIf cfg.enable {
            users.users.yubin = { isSystemUser = true; group = "yubin"; uid = 10025; home = "/var/lib/yubin"; };
            users.groups.yubin.gid = 10025;
            networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ 25 465 587 993 995 ];
            systemd.services.yubin = {
              description = "yubin mail server";
              wantedBy = [ "multi-user.target" ];
              after = [ "network-online.target" ];
              wants = [ "network-online.target" ];
              serviceConfig = {
                User = "yubin";
                Group = "yubin";
                ExecStartPre = "${cfg.package}/bin/yubin validate ${cfg.configFile}";
                ExecStart = "${cfg.package}/bin/yubin serve ${cfg.configFile}";
                Restart = "on-failure";
                StateDirectory = "yubin";
                StateDirectoryMode = "0750";
                AmbientCapabilities = [ "CAP_NET_BIND_SERVICE" ];
                CapabilityBoundingSet = [ "CAP_NET_BIND_SERVICE" ];
                NoNewPrivileges = true;
                ProtectSystem = "strict";
                ProtectHome = true;
                PrivateTmp = true;
                PrivateDevices = true;
                RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
                SystemCallFilter = [ "@system-service" ];
                LimitNOFILE = 65536;
              };
            };
          };
        };
    };
}
